"""WebSub (PubSubHubbub) push for new uploads: topics, subscribing, signatures and Atom parsing.

YouTube's hub (``https://pubsubhubbub.appspot.com/``) sends an Atom entry to a subscriber's
callback when a channel publishes or updates a video. A subscription names the channel's feed as
its topic, a callback URL, a lease and a secret. The hub verifies it with a GET carrying
``hub.challenge`` (echoed back), and signs each notification with ``X-Hub-Signature: sha1=<hex>``,
an HMAC of the body with the secret. Anything unsigned or mis-signed must be refused: the
callback is a public URL. Delivery is best effort, so the schedule still polls.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

from tubescope.errors import ConfigError, TubescopeError

YOUTUBE_HUB = "https://pubsubhubbub.appspot.com/"
FEED_URL = "https://www.youtube.com/xml/feeds/videos.xml"
DEFAULT_LEASE_SECONDS = 5 * 24 * 3600
"""What YouTube's hub grants when asked for more (about five days)."""
RENEW_BEFORE = timedelta(hours=12)
"""Leases are renewed this long before they expire, so one missed renewal tick is harmless."""
_SIGNATURE = re.compile(r"^(sha1|sha256|sha384|sha512)=([0-9a-fA-F]+)$")
_CHANNEL_ID = re.compile(r"^UC[0-9A-Za-z_-]{22}$")
ATOM = "{http://www.w3.org/2005/Atom}"
YT = "{http://www.youtube.com/xml/schemas/2015}"


class InvalidNotification(TubescopeError):
    """A push body that is not a YouTube Atom notification (or is hostile XML)."""

    exit_code = 2


def topic_for(channel_id: str) -> str:
    """The hub topic of a channel's uploads feed."""
    if not _CHANNEL_ID.match(channel_id):
        raise ConfigError(f"not a channel id: {channel_id!r}")
    return f"{FEED_URL}?channel_id={channel_id}"


def channel_of_topic(topic: str) -> str | None:
    """The channel id a feed topic names, or None for anything else."""
    parsed = urlparse(topic)
    if f"{parsed.scheme}://{parsed.netloc}{parsed.path}" != FEED_URL:
        return None
    found = parse_qs(parsed.query).get("channel_id", [])
    return found[0] if len(found) == 1 and _CHANNEL_ID.match(found[0]) else None


def new_secret() -> str:
    """A per-subscription secret for the hub's HMAC signatures."""
    return secrets.token_urlsafe(32)


def sign(body: bytes, secret: str, algorithm: str = "sha1") -> str:
    """The ``X-Hub-Signature`` value a hub sends for ``body`` (YouTube's hub uses sha1)."""
    digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    return f"{algorithm}={digest}"


def signature_valid(body: bytes, header: str | None, secret: str) -> bool:
    """Whether ``header`` is a correct HMAC of ``body`` under ``secret`` (constant-time compare).

    A missing, malformed or unknown-algorithm header is invalid: callbacks refuse unsigned pushes.
    """
    if not header or not secret:
        return False
    match = _SIGNATURE.match(header.strip())
    if match is None:
        return False
    expected = sign(body, secret, match.group(1).lower())
    return hmac.compare_digest(expected.lower(), header.strip().lower())


@dataclass(frozen=True)
class PushedVideo:
    """One entry of a notification: a video that was published or updated."""

    video_id: str
    channel_id: str
    title: str
    published_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class DeletedVideo:
    """A ``deleted-entry`` of a notification: the video was removed."""

    video_id: str
    deleted_at: datetime | None


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_notification(body: bytes) -> tuple[list[PushedVideo], list[DeletedVideo]]:
    """The videos a hub notification announces; :class:`InvalidNotification` for anything else.

    Parsed with defusedxml: a hostile body (entity expansion, external entities) is refused.
    """
    try:
        root = SafeElementTree.fromstring(body)
    except (SafeElementTree.ParseError, DefusedXmlException, ValueError) as exc:
        raise InvalidNotification(f"not a WebSub Atom notification: {type(exc).__name__}") from None
    if root.tag != f"{ATOM}feed":
        raise InvalidNotification("not a WebSub Atom notification: the root is not an Atom feed")
    pushed: list[PushedVideo] = []
    for entry in root.findall(f"{ATOM}entry"):
        video_id = (entry.findtext(f"{YT}videoId") or "").strip()
        channel_id = (entry.findtext(f"{YT}channelId") or "").strip()
        if not video_id or not _CHANNEL_ID.match(channel_id):
            raise InvalidNotification("an entry lacks yt:videoId or a valid yt:channelId")
        pushed.append(
            PushedVideo(
                video_id=video_id,
                channel_id=channel_id,
                title=(entry.findtext(f"{ATOM}title") or "").strip(),
                published_at=_moment(entry.findtext(f"{ATOM}published")),
                updated_at=_moment(entry.findtext(f"{ATOM}updated")),
            )
        )
    deleted = [
        DeletedVideo(
            video_id=(element.get("ref") or "").removeprefix("yt:video:"),
            deleted_at=_moment(element.get("when")),
        )
        for element in root.iter("{http://purl.org/atompub/tombstones/1.0}deleted-entry")
    ]
    return pushed, deleted


@dataclass(frozen=True)
class SubscriptionRequest:
    """What a subscriber asks of the hub."""

    topic: str
    callback: str
    secret: str
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    mode: str = "subscribe"

    def form(self) -> dict[str, str]:
        """The form fields of the hub request."""
        return {
            "hub.mode": self.mode,
            "hub.topic": self.topic,
            "hub.callback": self.callback,
            "hub.secret": self.secret,
            "hub.lease_seconds": str(self.lease_seconds),
            "hub.verify": "async",
        }


async def request_subscription(client: httpx.AsyncClient, hub_url: str, request: SubscriptionRequest) -> int:
    """Send ``request`` to the hub; returns its status (202 accepted, 204 verified at once).

    Raises :class:`~tubescope.errors.ConfigError` naming the hub when it refuses.
    """
    try:
        response = await client.post(hub_url, data=request.form())
    except httpx.HTTPError as exc:
        raise ConfigError(f"the WebSub hub at {hub_url} did not answer: {type(exc).__name__}") from None
    if response.status_code not in (202, 204):
        raise ConfigError(
            f"the WebSub hub at {hub_url} refused the {request.mode} of {request.topic}: "
            f"HTTP {response.status_code}"
        )
    return response.status_code


def due_for_renewal(expires_at: datetime | None, now: datetime, margin: timedelta = RENEW_BEFORE) -> bool:
    """Whether a lease (unverified: ``None``) must be asked for again now."""
    return expires_at is None or expires_at - now <= margin


def challenge_answer(params: dict[str, str], expected_topics: Sequence[str]) -> tuple[str | None, int | None]:
    """The body to echo for a hub's verification GET and the lease it grants.

    Returns ``(None, None)`` when the request is not a verification for one of ``expected_topics``
    (the callback then answers 404, so nobody can subscribe us to a topic we did not ask for).
    """
    mode = params.get("hub.mode", "")
    topic = params.get("hub.topic", "")
    challenge = params.get("hub.challenge", "")
    if mode not in ("subscribe", "unsubscribe") or not challenge or topic not in expected_topics:
        return None, None
    lease_text = params.get("hub.lease_seconds", "")
    lease = int(lease_text) if lease_text.isdigit() else None
    return challenge, lease
