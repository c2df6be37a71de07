"""Channel references as people paste them, parsed without any network request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qs, unquote, urlsplit

from tubescope.errors import InvalidChannelRef

CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}\Z")
VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}\Z")
# Handles: 3-30 chars of letters (any script), digits, underscore, hyphen and period.
HANDLE = re.compile(r"^@[\w.-]{3,30}\Z", re.UNICODE)
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}\Z")
# Legacy /c/ vanity names: letters of any script, digits, '_', '-' and '.'.
CUSTOM_NAME = re.compile(r"^[\w.-]{1,100}\Z", re.UNICODE)
MAX_REF_LENGTH = 2_000
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}
_SHORT_HOSTS = {"youtu.be", "www.youtu.be"}


class RefKind(StrEnum):
    """How a channel or video reference was written: an id, a handle, a username, a custom URL or a video."""

    CHANNEL_ID = "channel_id"
    HANDLE = "handle"
    USERNAME = "username"
    CUSTOM_URL = "custom_url"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """What the user pointed at; ``kind`` decides which API call resolves it."""

    kind: RefKind
    value: str
    raw: str

    @property
    def needs_search(self) -> bool:
        """Only ``search.list`` (100 units) resolves a legacy ``/c/`` vanity URL."""
        return self.kind is RefKind.CUSTOM_URL

    @property
    def resolve_cost(self) -> int:
        """Quota units needed to turn this reference into a channel id."""
        if self.kind is RefKind.CHANNEL_ID:
            return 0
        if self.kind is RefKind.CUSTOM_URL:
            return 100
        return 1


def parse_channel_ref(raw: str) -> ChannelRef:
    """Parse ``UC…``, ``@handle``, any youtube.com channel URL or a video URL.

    Raises :class:`InvalidChannelRef` with the reason; never touches the network.
    """
    text = raw.strip()
    if not text:
        raise InvalidChannelRef(raw, "empty reference")
    if len(text) > MAX_REF_LENGTH:
        raise InvalidChannelRef(raw[:80] + "…", f"longer than {MAX_REF_LENGTH} characters")
    if any(not ch.isprintable() for ch in text):
        raise InvalidChannelRef(raw, "contains control or invisible characters")
    if CHANNEL_ID.fullmatch(text):
        return ChannelRef(RefKind.CHANNEL_ID, text, raw)
    if text.startswith("@"):
        return _handle(text, raw)
    if text.startswith("UC") and "/" not in text:
        raise InvalidChannelRef(raw, "a channel id is 'UC' followed by 22 letters, digits, '-' or '_'")
    if "/" not in text and "." not in text:
        raise InvalidChannelRef(raw, "expected a UC… channel id, an @handle or a youtube.com URL")
    url = text if "://" in text else "https://" + text
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError as exc:  # e.g. "a.b[": an unbalanced IPv6 bracket
        raise InvalidChannelRef(raw, f"not a valid URL ({exc})") from None
    if parts.scheme not in {"http", "https"}:
        raise InvalidChannelRef(raw, f"unsupported URL scheme {parts.scheme!r}")
    segments = [s for s in parts.path.split("/") if s]
    if host in _SHORT_HOSTS:
        if len(segments) == 1 and VIDEO_ID.fullmatch(segments[0]):
            return ChannelRef(RefKind.VIDEO, segments[0], raw)
        raise InvalidChannelRef(raw, "a youtu.be link needs an 11-character video id")
    if host not in _YOUTUBE_HOSTS:
        raise InvalidChannelRef(raw, f"not a YouTube address: {host or text!r}")
    if not segments:
        raise InvalidChannelRef(raw, "the URL does not name a channel or a video")
    head = segments[0]
    if head.startswith("@"):
        return _handle(head, raw)
    if head == "watch":
        video_ids = parse_qs(parts.query).get("v", [])
        if video_ids and VIDEO_ID.fullmatch(video_ids[0]):
            return ChannelRef(RefKind.VIDEO, video_ids[0], raw)
        raise InvalidChannelRef(raw, "a watch URL needs v=<11-character video id>")
    if head in {"shorts", "live", "embed"} and len(segments) >= 2:
        if VIDEO_ID.fullmatch(segments[1]):
            return ChannelRef(RefKind.VIDEO, segments[1], raw)
        raise InvalidChannelRef(raw, f"/{head}/ needs an 11-character video id")
    if head == "channel" and len(segments) >= 2:
        if CHANNEL_ID.fullmatch(segments[1]):
            return ChannelRef(RefKind.CHANNEL_ID, segments[1], raw)
        raise InvalidChannelRef(raw, "/channel/ needs a UC… id of 24 characters")
    if head == "user" and len(segments) >= 2:
        if USERNAME.fullmatch(segments[1]):
            return ChannelRef(RefKind.USERNAME, segments[1], raw)
        raise InvalidChannelRef(raw, "/user/ needs a legacy username")
    if head == "c" and len(segments) >= 2:
        name = unquote(segments[1])
        if CUSTOM_NAME.fullmatch(name):
            return ChannelRef(RefKind.CUSTOM_URL, name, raw)
        raise InvalidChannelRef(raw, "/c/ needs a custom name of letters, digits, '_', '-' or '.'")
    raise InvalidChannelRef(raw, f"unrecognised YouTube path /{'/'.join(segments)}")


def _handle(text: str, raw: str) -> ChannelRef:
    if not HANDLE.fullmatch(text):
        raise InvalidChannelRef(raw, "a handle is '@' followed by 3-30 letters, digits, '_', '-' or '.'")
    return ChannelRef(RefKind.HANDLE, text, raw)
