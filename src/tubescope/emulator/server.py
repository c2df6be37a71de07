"""The YouTube Data API v3, served from a :class:`~tubescope.emulator.world.World`.

``create_app(world)`` returns an ASGI app answering under ``/youtube/v3/`` in the real API's JSON
shapes (counts as strings, hidden counts absent, only requested ``part``s present, the real error
body), with per-key daily quota, a spending ledger and injectable faults. Admin routes under
``/_admin/`` (no key, no quota, no faults) read the ledger and move the clock or change faults.

Every answer reflects ``world.observe(clock.now())``; a frozen clock gives byte-identical bodies.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import html
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tubescope.emulator.clock import EmulatorClock, RunningClock
from tubescope.emulator.faults import Fault, FaultConfig, FaultInjector
from tubescope.emulator.hub import WebSubHub, hub_routes_handlers
from tubescope.emulator.quota import DEFAULT_DAILY_QUOTA, QuotaLedger
from tubescope.emulator.world import (
    PLAYLIST_PREFIXES,
    SEARCH_RESULT_LIMIT,
    ChannelState,
    CommentState,
    PlaylistKind,
    VideoState,
    World,
    WorldObservation,
    format_iso_duration,
)

API_PREFIX = "/youtube/v3"
DEMO_KEYS: Mapping[str, int] = {"demo-key-1": DEFAULT_DAILY_QUOTA, "demo-key-2": DEFAULT_DAILY_QUOTA}
MAX_IDS = 50
ANSWER_CACHE_BYTES = 64 * 1024 * 1024

_TOPIC_URLS = {
    "20": "https://en.wikipedia.org/wiki/Video_game_culture",
    "26": "https://en.wikipedia.org/wiki/Food",
    "28": "https://en.wikipedia.org/wiki/Technology",
    "27": "https://en.wikipedia.org/wiki/Knowledge",
    "17": "https://en.wikipedia.org/wiki/Physical_fitness",
    "10": "https://en.wikipedia.org/wiki/Music",
    "19": "https://en.wikipedia.org/wiki/Tourism",
    "22": "https://en.wikipedia.org/wiki/Lifestyle_(sociology)",
}
_TOPIC_IDS = {
    "20": "/m/0bzvm2",
    "26": "/m/02wbm",
    "28": "/m/07c1v",
    "27": "/m/01k8wb",
    "17": "/m/027x7n",
    "10": "/m/04rlf",
    "19": "/m/07bxq",
    "22": "/m/019_rr",
}

PARTS: Mapping[str, frozenset[str]] = {
    "channels.list": frozenset(
        {
            "id",
            "snippet",
            "contentDetails",
            "statistics",
            "status",
            "topicDetails",
            "brandingSettings",
            "localizations",
            "contentOwnerDetails",
            "auditDetails",
        }
    ),
    "playlistItems.list": frozenset({"id", "snippet", "contentDetails", "status"}),
    "videos.list": frozenset(
        {
            "id",
            "snippet",
            "contentDetails",
            "statistics",
            "status",
            "topicDetails",
            "liveStreamingDetails",
            "player",
            "recordingDetails",
            "localizations",
            "fileDetails",
            "processingDetails",
            "suggestions",
            "paidProductPlacementDetails",
        }
    ),
    "videos.batchGetStats": frozenset({"id", "snippet", "contentDetails", "statistics"}),
    "commentThreads.list": frozenset({"id", "snippet", "replies"}),
    "comments.list": frozenset({"id", "snippet"}),
    "search.list": frozenset({"id", "snippet"}),
}


class ApiFailure(Exception):
    """An error answer in the real body shape; raised by handlers, rendered by the dispatcher."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        location: str | None = None,
        status: str | None = None,
        charge: bool = True,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.domain = domain
        self.location = location
        self.status = status
        self.charge = charge

    def body(self) -> dict[str, Any]:
        """The error response body, shaped as the real API shapes it."""
        entry: dict[str, Any] = {"message": self.message, "domain": self.domain, "reason": self.reason}
        if self.location:
            entry["location"] = self.location
            entry["locationType"] = "parameter"
        error: dict[str, Any] = {"code": self.code, "message": self.message, "errors": [entry]}
        if self.status:
            error["status"] = self.status
        return {"error": error}


def _bad_request(message: str, location: str | None = None) -> ApiFailure:
    return ApiFailure(400, "badRequest", message, location=location, status="INVALID_ARGUMENT")


def key_invalid() -> ApiFailure:
    """The failure the API gives for an unknown or malformed key."""
    return ApiFailure(
        400,
        "keyInvalid",
        "API key not valid. Please pass a valid API key.",
        domain="usageLimits",
        status="INVALID_ARGUMENT",
        charge=False,
    )


def quota_exceeded() -> ApiFailure:
    """The failure the API gives when a key's daily quota is spent."""
    return ApiFailure(
        403,
        "quotaExceeded",
        'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started'
        '#quota">quota</a>.',
        domain="youtube.quota",
        status="PERMISSION_DENIED",
        charge=False,
    )


_FAULT_FAILURES: Mapping[Fault, ApiFailure] = {
    Fault.BACKEND_ERROR: ApiFailure(500, "backendError", "Backend Error", status="INTERNAL", charge=False),
    Fault.UNAVAILABLE: ApiFailure(
        503, "backendError", "The service is currently unavailable.", status="UNAVAILABLE", charge=False
    ),
    Fault.TOO_MANY_REQUESTS: ApiFailure(
        429,
        "rateLimitExceeded",
        "Too Many Requests",
        domain="usageLimits",
        status="RESOURCE_EXHAUSTED",
        charge=False,
    ),
    Fault.RATE_LIMIT: ApiFailure(
        403,
        "rateLimitExceeded",
        "Rate Limit Exceeded",
        domain="usageLimits",
        status="PERMISSION_DENIED",
        charge=False,
    ),
}


# --------------------------------------------------------------------------------------------
# request parameters


class Params:
    """Query parameters with the API's validation rules (repeated keys allowed, last one wins)."""

    def __init__(self, query: bytes) -> None:
        self.multi: dict[str, list[str]] = {}
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            self.multi.setdefault(name, []).append(value)

    def get(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        values = self.multi.get(name)
        return values[-1] if values else None

    def fingerprint(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Everything that shapes the answer (all parameters but the API key), order-free."""
        return tuple(sorted((name, tuple(values)) for name, values in self.multi.items() if name != "key"))

    def ids(self, name: str) -> list[str]:
        """Comma-separated and/or repeated values, blanks dropped."""
        out: list[str] = []
        for value in self.multi.get(name, []):
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return out

    def parts(self, method: str) -> frozenset[str]:
        """The resource parts requested with ``part``; rejects parts ``method`` does not offer."""
        raw = self.ids("part")
        if not raw:
            raise ApiFailure(
                400,
                "required",
                "Required parameter: part",
                location="part",
                status="INVALID_ARGUMENT",
            )
        unknown = [p for p in raw if p not in PARTS[method]]
        if unknown:
            raise ApiFailure(
                400,
                "unknownPart",
                f"'{unknown[0]}'",
                domain="youtube.part",
                location="part",
                status="INVALID_ARGUMENT",
            )
        return frozenset(raw)

    def max_results(self, *, low: int, high: int, default: int) -> int:
        """The ``maxResults`` parameter, checked against ``low``..``high``, or ``default``."""
        raw = self.get("maxResults")
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _bad_request(
                f"Invalid value '{raw}'. Values must be within the range: [{low}, {high}]", "maxResults"
            ) from None
        if not low <= value <= high:
            raise _bad_request(
                f"Invalid value '{raw}'. Values must be within the range: [{low}, {high}]", "maxResults"
            )
        return value

    def offset(self) -> int:
        """The item offset that the ``pageToken`` parameter points to (0 without one)."""
        token = self.get("pageToken")
        if not token:
            return 0
        decoded = decode_page_token(token)
        if decoded is None:
            raise ApiFailure(
                400,
                "invalidPageToken",
                "The request specifies an invalid page token.",
                domain="youtube.parameter",
                location="pageToken",
                status="INVALID_ARGUMENT",
            )
        return decoded


def encode_page_token(offset: int) -> str:
    """A page token that points at item ``offset``."""
    return "EA" + base64.urlsafe_b64encode(f"PT:{offset}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> int | None:
    """The offset a page token points at, or None when the token is not one of ours."""
    if not token.startswith("EA"):
        return None
    body = token[2:]
    try:
        text = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not text.startswith("PT:") or not text[3:].isdigit():
        return None
    return int(text[3:])


# --------------------------------------------------------------------------------------------
# JSON shapes


def etag(*parts: object) -> str:
    """A stable entity tag for the given parts."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=20).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def rfc3339(moment: datetime) -> str:
    """``moment`` in the API's RFC 3339 form (UTC, seconds)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _video_thumbnails(video_id: str) -> dict[str, Any]:
    base = f"https://i.ytimg.com/vi/{video_id}"
    return {
        "default": {"url": f"{base}/default.jpg", "width": 120, "height": 90},
        "medium": {"url": f"{base}/mqdefault.jpg", "width": 320, "height": 180},
        "high": {"url": f"{base}/hqdefault.jpg", "width": 480, "height": 360},
    }


def _channel_thumbnails(channel_id: str) -> dict[str, Any]:
    base = f"https://yt3.ggpht.com/emulator/{channel_id}"
    return {
        "default": {"url": f"{base}=s88-c-k-c0x00ffffff-no-rj", "width": 88, "height": 88},
        "medium": {"url": f"{base}=s240-c-k-c0x00ffffff-no-rj", "width": 240, "height": 240},
        "high": {"url": f"{base}=s800-c-k-c0x00ffffff-no-rj", "width": 800, "height": 800},
    }


def channel_resource(channel: ChannelState, parts: frozenset[str]) -> dict[str, Any]:
    """A ``youtube#channel`` resource with the requested parts."""
    item: dict[str, Any] = {
        "kind": "youtube#channel",
        "etag": etag(channel.channel_id, channel.view_count, channel.subscriber_count, channel.video_count),
        "id": channel.channel_id,
    }
    if "snippet" in parts:
        snippet: dict[str, Any] = {
            "title": channel.title,
            "description": channel.description,
            "customUrl": channel.custom_url,
            "publishedAt": rfc3339(channel.published_at),
            "thumbnails": _channel_thumbnails(channel.channel_id),
        }
        if channel.default_language:
            snippet["defaultLanguage"] = channel.default_language
        snippet["localized"] = {"title": channel.title, "description": channel.description}
        if channel.country:
            snippet["country"] = channel.country
        item["snippet"] = snippet
    if "contentDetails" in parts:
        item["contentDetails"] = {"relatedPlaylists": {"likes": "", "uploads": channel.uploads_playlist_id}}
    if "statistics" in parts:
        stats: dict[str, Any] = {"viewCount": str(channel.view_count)}
        if channel.subscriber_count is not None:
            stats["subscriberCount"] = str(channel.subscriber_count)
        stats["hiddenSubscriberCount"] = channel.hidden_subscriber_count
        stats["videoCount"] = str(channel.video_count)
        item["statistics"] = stats
    if "topicDetails" in parts:
        item["topicDetails"] = {
            "topicIds": [_TOPIC_IDS[channel.topic_category_id]],
            "topicCategories": [_TOPIC_URLS[channel.topic_category_id]],
        }
    if "status" in parts:
        item["status"] = {
            "privacyStatus": "public",
            "isLinked": True,
            "longUploadsStatus": "longUploadsUnspecified",
            "madeForKids": False,
        }
    if "brandingSettings" in parts:
        branding: dict[str, Any] = {
            "title": channel.title,
            "description": channel.description,
            "keywords": channel.keywords,
            "unsubscribedTrailer": "",
        }
        if channel.country:
            branding["country"] = channel.country
        item["brandingSettings"] = {"channel": branding, "image": {"bannerExternalUrl": ""}}
    if "localizations" in parts:
        item["localizations"] = {}
    return item


LIVE_STREAM_LENGTH = timedelta(hours=2)
"""How long the world's live streams run (``actualEndTime`` is two hours after the start)."""


def live_phase(video: VideoState, now: datetime) -> str:
    """Where a broadcast stands: ``none`` (not a broadcast), ``upcoming``, ``live`` or ``finished``.

    A broadcast with no views yet has not started (``upcoming``); it is ``live`` for
    :data:`LIVE_STREAM_LENGTH` after its start, and ``finished`` after that.
    """
    if not video.is_live:
        return "none"
    if video.view_count == 0:
        return "upcoming"
    return "live" if now - video.published_at < LIVE_STREAM_LENGTH else "finished"


def served_duration(video: VideoState, phase: str, now: datetime) -> str:
    """The ``contentDetails.duration`` the emulator sends.

    As in the recorded real data, ``P0D`` is only for a broadcast that has not started (0 views);
    a stream on air has the length streamed so far, and a finished one the length of its archive.
    """
    if phase == "upcoming":
        return "P0D"
    if phase == "live":
        return format_iso_duration(max(1, int((now - video.published_at).total_seconds())))
    if phase == "finished":
        return format_iso_duration(int(LIVE_STREAM_LENGTH.total_seconds()))
    return video.duration_iso


def _live_details(video: VideoState, phase: str) -> dict[str, Any]:
    """``liveStreamingDetails`` for a broadcast in ``phase``."""
    details: dict[str, Any] = {"scheduledStartTime": rfc3339(video.published_at - timedelta(minutes=15))}
    if phase == "upcoming":
        details["scheduledStartTime"] = rfc3339(video.published_at)
        return details
    details["actualStartTime"] = rfc3339(video.published_at)
    if phase == "live":
        details["concurrentViewers"] = str(max(video.view_count // 20, 1))
    else:
        details["actualEndTime"] = rfc3339(video.published_at + LIVE_STREAM_LENGTH)
    return details


def video_resource(video: VideoState, parts: frozenset[str], now: datetime) -> dict[str, Any]:
    """One ``youtube#video`` item with the requested ``parts``, as YouTube would send it at ``now``."""
    phase = live_phase(video, now)
    item: dict[str, Any] = {
        "kind": "youtube#video",
        "etag": etag(video.video_id, video.view_count, video.like_count, video.comment_count),
        "id": video.video_id,
    }
    if "snippet" in parts:
        snippet: dict[str, Any] = {
            "publishedAt": video.published_iso,
            "channelId": video.channel_id,
            "title": video.title,
            "description": video.description,
            "thumbnails": _video_thumbnails(video.video_id),
            "channelTitle": video.channel_title,
        }
        if video.tags:
            snippet["tags"] = list(video.tags)
        snippet["categoryId"] = video.category_id
        snippet["liveBroadcastContent"] = phase if phase in ("upcoming", "live") else "none"
        if video.default_language:
            snippet["defaultLanguage"] = video.default_language
        snippet["localized"] = {"title": video.title, "description": video.description}
        if video.default_language:
            snippet["defaultAudioLanguage"] = video.default_language
        item["snippet"] = snippet
    if "contentDetails" in parts:
        item["contentDetails"] = {
            "duration": served_duration(video, phase, now),
            "dimension": "2d",
            "definition": "hd" if video.video_format != "short" else "sd",
            "caption": "false",
            "licensedContent": True,
            "contentRating": {},
            "projection": "rectangular",
        }
    if "status" in parts:
        item["status"] = {
            "uploadStatus": "processed",
            "privacyStatus": "public",
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
            "madeForKids": False,
        }
    if "statistics" in parts:
        stats: dict[str, Any] = {"viewCount": str(video.view_count)}
        if video.like_count is not None:
            stats["likeCount"] = str(video.like_count)
        stats["favoriteCount"] = "0"
        if video.comment_count is not None:
            stats["commentCount"] = str(video.comment_count)
        item["statistics"] = stats
    if "topicDetails" in parts:
        item["topicDetails"] = {"topicCategories": [_TOPIC_URLS[video.category_id]]}
    if "player" in parts:
        item["player"] = {
            "embedHtml": f'<iframe width="480" height="270" src="//www.youtube.com/embed/{video.video_id}" '
            'frameborder="0" allowfullscreen></iframe>'
        }
    if "liveStreamingDetails" in parts and phase != "none":
        item["liveStreamingDetails"] = _live_details(video, phase)
    if "localizations" in parts:
        item["localizations"] = {}
    return item


def playlist_item_resource(
    video: VideoState, playlist_id: str, position: int, parts: frozenset[str]
) -> dict[str, Any]:
    """A ``youtube#playlistItem`` resource for one video of a playlist."""
    item_id = base64.urlsafe_b64encode(f"{playlist_id}.{video.video_id}".encode()).decode().rstrip("=")
    item: dict[str, Any] = {
        "kind": "youtube#playlistItem",
        "etag": etag(item_id, position),
        "id": item_id,
    }
    if "snippet" in parts:
        item["snippet"] = {
            "publishedAt": video.published_iso,
            "channelId": video.channel_id,
            "title": video.title,
            "description": video.description,
            "thumbnails": _video_thumbnails(video.video_id),
            "channelTitle": video.channel_title,
            "playlistId": playlist_id,
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": video.video_id},
            "videoOwnerChannelTitle": video.channel_title,
            "videoOwnerChannelId": video.channel_id,
        }
    if "contentDetails" in parts:
        item["contentDetails"] = {"videoId": video.video_id, "videoPublishedAt": video.published_iso}
    if "status" in parts:
        item["status"] = {"privacyStatus": "public"}
    return item


def list_response(
    kind: str,
    items: list[dict[str, Any]],
    *,
    total: int,
    per_page: int,
    next_token: str | None = None,
    prev_token: str | None = None,
    omit_empty_items: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A list response with paging information and the page's items."""
    body: dict[str, Any] = {"kind": kind, "etag": etag(kind, *(i.get("etag", "") for i in items))}
    if extra:
        body.update(extra)
    if next_token:
        body["nextPageToken"] = next_token
    if prev_token:
        body["prevPageToken"] = prev_token
    if items or not omit_empty_items:
        body["items"] = items
    body["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page}
    return body


# --------------------------------------------------------------------------------------------
# handlers: (observation, params) -> JSON body; raise ApiFailure for API errors


@dataclass(frozen=True)
class Call:
    """One API request: its parameters, the world observed at its time, and that time."""

    params: Params
    observation: WorldObservation
    now: datetime


_NO_CHANNEL_FILTER = (
    "No filter selected. Expected one of: forUsername, managedByMe, categoryId, mine, mySubscribers, "
    "id, idParam, forHandle"
)


def handle_channels(call: Call) -> dict[str, Any]:
    """Answer ``channels.list``."""
    params = call.params
    parts = params.parts("channels.list")
    per_page = params.max_results(low=0, high=50, default=5)
    filters = [name for name in ("id", "forHandle", "forUsername") if params.get(name) is not None]
    if len(filters) != 1:
        raise ApiFailure(
            400,
            "missingRequiredParameter" if not filters else "incompatibleParameters",
            _NO_CHANNEL_FILTER
            if not filters
            else "Incompatible parameters specified in the request: " + ", ".join(filters),
            domain="youtube.parameter",
            status="INVALID_ARGUMENT",
        )
    world = call.observation.world
    if filters[0] == "id":
        wanted = params.ids("id")
        if len(wanted) > MAX_IDS:
            raise _bad_request("The request specifies more than 50 channel ids.", "id")
    elif filters[0] == "forHandle":
        found = world.find_handle(params.get("forHandle") or "")
        wanted = [found] if found else []
    else:
        found = world.find_username(params.get("forUsername") or "")
        wanted = [found] if found else []
    items = []
    for channel_id in dict.fromkeys(wanted):
        channel = call.observation.channel(channel_id)
        if channel is not None:
            items.append(channel_resource(channel, parts))
    return list_response(
        "youtube#channelListResponse", items, total=len(items), per_page=per_page, omit_empty_items=True
    )


def _playlist_not_found() -> ApiFailure:
    return ApiFailure(
        404,
        "playlistNotFound",
        "The playlist identified with the request's <code>playlistId</code> parameter cannot be found.",
        domain="youtube.playlistItem",
        location="playlistId",
        status="NOT_FOUND",
    )


def _parse_playlist_id(playlist_id: str) -> tuple[PlaylistKind, str]:
    """Uploads playlists (``UU``) and their siblings (``UULF``, ``UUSH``, ``UULV``) -> channel id."""
    for prefix, kind in PLAYLIST_PREFIXES.items():
        if playlist_id.startswith(prefix) and len(playlist_id) == len(prefix) + 22:
            return kind, "UC" + playlist_id[len(prefix) :]
    raise _playlist_not_found()


def handle_playlist_items(call: Call) -> dict[str, Any]:
    """Answer ``playlistItems.list``."""
    params = call.params
    parts = params.parts("playlistItems.list")
    per_page = params.max_results(low=0, high=50, default=5)
    playlist_id = params.get("playlistId")
    if not playlist_id:
        raise ApiFailure(
            400,
            "missingRequiredParameter",
            "No filter selected. Expected one of: playlistId, id",
            domain="youtube.parameter",
            status="INVALID_ARGUMENT",
        )
    offset = params.offset()
    kind, channel_id = _parse_playlist_id(playlist_id)
    observation = call.observation
    if observation.channel(channel_id) is None:
        raise _playlist_not_found()
    total = observation.uploads_count(channel_id, kind)
    if kind in ("short", "live") and total == 0:
        raise _playlist_not_found()
    page = observation.uploads_page(channel_id, kind, offset, per_page)
    items = [playlist_item_resource(video, playlist_id, offset + n, parts) for n, video in enumerate(page)]
    next_token = encode_page_token(offset + per_page) if per_page and offset + per_page < total else None
    prev_token = encode_page_token(max(offset - per_page, 0)) if offset > 0 else None
    return list_response(
        "youtube#playlistItemListResponse",
        items,
        total=total,
        per_page=per_page,
        next_token=next_token,
        prev_token=prev_token,
    )


def _video_ids(params: Params) -> list[str]:
    wanted = params.ids("id")
    if not wanted:
        raise ApiFailure(
            400,
            "missingRequiredParameter",
            "No filter selected. Expected one of: myRating, chart, id",
            domain="youtube.parameter",
            status="INVALID_ARGUMENT",
        )
    if len(wanted) > MAX_IDS:
        raise _bad_request("The request specifies more than 50 video ids.", "id")
    return wanted


def handle_videos(call: Call) -> dict[str, Any]:
    """Answer ``videos.list``."""
    params = call.params
    parts = params.parts("videos.list")
    per_page = params.max_results(low=1, high=50, default=5)
    videos = call.observation.videos(list(dict.fromkeys(_video_ids(params))))
    items = [video_resource(video, parts, call.now) for video in videos]
    return list_response(
        "youtube#videoListResponse", items, total=len(items), per_page=max(per_page, len(items))
    )


def handle_batch_get_stats(call: Call) -> dict[str, Any]:
    """Answer ``videos.batchGetStats``."""
    params = call.params
    parts = params.parts("videos.batchGetStats")
    videos = call.observation.videos(list(dict.fromkeys(_video_ids(params))))
    items = []
    for video in videos:
        item: dict[str, Any] = {
            "kind": "youtube#videoStats",
            "etag": etag("stats", video.video_id, video.view_count),
            "id": video.video_id,
        }
        if "snippet" in parts:
            item["snippet"] = {"publishTime": video.published_iso}
        if "contentDetails" in parts:
            item["contentDetails"] = {"duration": f"{video.duration_seconds or 0}s"}
        if "statistics" in parts:
            stats: dict[str, Any] = {"viewCount": str(video.view_count)}
            if video.like_count is not None:
                stats["likeCount"] = str(video.like_count)
            if video.comment_count is not None:
                stats["commentCount"] = str(video.comment_count)
            item["statistics"] = stats
        items.append(item)
    return {
        "kind": "youtube#batchGetStatsResponse",
        "etag": etag("batch", *(i["etag"] for i in items)),
        "items": items,
    }


def comment_resource(comment: CommentState, *, plain_text: bool) -> dict[str, Any]:
    """A ``youtube#comment`` resource, in HTML or plain text."""
    original = comment.text
    display = original if plain_text else html.escape(original, quote=False).replace("\n", "<br>")
    snippet: dict[str, Any] = {
        "channelId": comment.channel_id,
        "videoId": comment.video_id,
        "textDisplay": display,
        "textOriginal": original,
    }
    if comment.parent_id:
        snippet["parentId"] = comment.parent_id
    author_slug = comment.author_name.lstrip("@")
    snippet |= {
        "authorDisplayName": comment.author_name,
        "authorProfileImageUrl": f"https://yt3.ggpht.com/emulator/{author_slug}=s48-c-k-c0x00ffffff-no-rj",
        "authorChannelUrl": f"http://www.youtube.com/{comment.author_name}",
        "authorChannelId": {"value": comment.author_channel_id},
        "canRate": True,
        "viewerRating": "none",
        "likeCount": comment.like_count,
        "publishedAt": rfc3339(comment.published_at),
        "updatedAt": rfc3339(comment.published_at),
    }
    return {
        "kind": "youtube#comment",
        "etag": etag(comment.comment_id, comment.like_count),
        "id": comment.comment_id,
        "snippet": snippet,
    }


_INLINE_REPLIES = 5


def _plain_text(params: Params) -> bool:
    fmt = params.get("textFormat") or "html"
    if fmt not in ("html", "plainText"):
        raise _bad_request(f"Invalid value '{fmt}' for textFormat.", "textFormat")
    return fmt == "plainText"


def handle_comment_threads(call: Call) -> dict[str, Any]:
    """Answer ``commentThreads.list``."""
    params = call.params
    parts = params.parts("commentThreads.list")
    per_page = params.max_results(low=1, high=100, default=20)
    plain = _plain_text(params)
    video_id = params.get("videoId")
    if not video_id:
        raise ApiFailure(
            400,
            "missingRequiredParameter",
            "No filter selected. Expected one of: allThreadsRelatedToChannelId, channelId, videoId, id",
            domain="youtube.parameter",
            status="INVALID_ARGUMENT",
        )
    offset = params.offset()
    observation = call.observation
    video = observation.video(video_id)
    if video is None:
        raise ApiFailure(
            404,
            "videoNotFound",
            'The video identified by the <code><a href="/youtube/v3/docs/commentThreads/list#videoId">videoId'
            "</a></code> parameter could not be found.",
            domain="youtube.commentThread",
            location="videoId",
            status="NOT_FOUND",
        )
    if video.comments_disabled:
        raise ApiFailure(
            403,
            "commentsDisabled",
            'The video identified by the <code><a href="/youtube/v3/docs/commentThreads/list#videoId">videoId'
            "</a></code> parameter has disabled comments.",
            domain="youtube.commentThread",
            location="videoId",
            status="PERMISSION_DENIED",
        )
    total = observation.thread_count(video_id)
    items = []
    for comment in observation.comment_threads(video_id, offset, per_page):
        item: dict[str, Any] = {
            "kind": "youtube#commentThread",
            "etag": etag("thread", comment.comment_id, comment.total_reply_count),
            "id": comment.comment_id,
        }
        if "snippet" in parts:
            item["snippet"] = {
                "channelId": comment.channel_id,
                "videoId": comment.video_id,
                "topLevelComment": comment_resource(comment, plain_text=plain),
                "canReply": True,
                "totalReplyCount": comment.total_reply_count,
                "isPublic": True,
            }
        if "replies" in parts and comment.total_reply_count:
            replies, _ = observation.replies(comment.comment_id, 0, _INLINE_REPLIES)
            item["replies"] = {"comments": [comment_resource(r, plain_text=plain) for r in replies]}
        items.append(item)
    next_token = encode_page_token(offset + per_page) if offset + per_page < total else None
    return list_response(
        "youtube#commentThreadListResponse", items, total=len(items), per_page=per_page, next_token=next_token
    )


def handle_comments(call: Call) -> dict[str, Any]:
    """Answer ``comments.list``."""
    params = call.params
    params.parts("comments.list")
    per_page = params.max_results(low=1, high=100, default=20)
    plain = _plain_text(params)
    parent_id = params.get("parentId")
    observation = call.observation
    if parent_id:
        offset = params.offset()
        replies, total = observation.replies(parent_id, offset, per_page)
        items = [comment_resource(r, plain_text=plain) for r in replies]
        next_token = encode_page_token(offset + per_page) if offset + per_page < total else None
        return list_response(
            "youtube#commentListResponse", items, total=len(items), per_page=per_page, next_token=next_token
        )
    wanted = params.ids("id")
    if not wanted:
        raise ApiFailure(
            400,
            "missingRequiredParameter",
            "No filter selected. Expected one of: parentId, id",
            domain="youtube.parameter",
            status="INVALID_ARGUMENT",
        )
    items = []
    for comment_id in wanted[:MAX_IDS]:
        thread = observation.thread(comment_id)
        if thread is not None:
            items.append(comment_resource(thread, plain_text=plain))
    return list_response("youtube#commentListResponse", items, total=len(items), per_page=per_page)


def _rfc3339_param(params: Params, name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _bad_request(
            f"Invalid value '{raw}'. Expected an RFC 3339 formatted date-time value (1970-01-01T00:00:00Z).",
            name,
        )
    return moment


def handle_search(call: Call) -> dict[str, Any]:
    """Answer ``search.list``."""
    params = call.params
    parts = params.parts("search.list")
    per_page = params.max_results(low=0, high=50, default=5)
    offset = params.offset()
    kind = params.get("type") or "video,channel,playlist"
    after = _rfc3339_param(params, "publishedAfter")
    before = _rfc3339_param(params, "publishedBefore")
    observation = call.observation
    channel_id = params.get("channelId")
    query = params.get("q") or ""
    results: list[tuple[str, str]] = []
    if channel_id and "video" in kind:
        found = observation.search_channel_videos(channel_id, published_after=after, published_before=before)
        results = [("youtube#video", v) for v in found]
    elif query and "channel" in kind:
        results = [("youtube#channel", c) for c in observation.search_channels(query)]
    page = results[offset : offset + per_page]
    items = []
    for result_kind, result_id in page:
        item: dict[str, Any] = {"kind": "youtube#searchResult", "etag": etag("search", result_id)}
        if result_kind == "youtube#video":
            item["id"] = {"kind": result_kind, "videoId": result_id}
            video = observation.video(result_id)
            if video is not None and "snippet" in parts:
                item["snippet"] = {
                    "publishedAt": video.published_iso,
                    "channelId": video.channel_id,
                    "title": html.escape(video.title),
                    "description": video.description[:160],
                    "thumbnails": _video_thumbnails(video.video_id),
                    "channelTitle": video.channel_title,
                    "liveBroadcastContent": "none",
                    "publishTime": video.published_iso,
                }
        else:
            item["id"] = {"kind": result_kind, "channelId": result_id}
            channel = observation.channel(result_id)
            if channel is not None and "snippet" in parts:
                item["snippet"] = {
                    "publishedAt": rfc3339(channel.published_at),
                    "channelId": channel.channel_id,
                    "title": channel.title,
                    "description": channel.description,
                    "thumbnails": _channel_thumbnails(channel.channel_id),
                    "channelTitle": channel.title,
                    "liveBroadcastContent": "none",
                    "publishTime": rfc3339(channel.published_at),
                }
        items.append(item)
    next_token = (
        encode_page_token(offset + per_page) if per_page and offset + per_page < len(results) else None
    )
    prev_token = encode_page_token(max(offset - per_page, 0)) if offset > 0 else None
    # like the real API, totalResults is an estimate that can exceed what paging will ever return
    estimate = len(results) if len(results) < SEARCH_RESULT_LIMIT else 1_000_000
    return list_response(
        "youtube#searchListResponse",
        items,
        total=estimate,
        per_page=per_page,
        next_token=next_token,
        prev_token=prev_token,
        extra={"regionCode": "US"},
    )


# --------------------------------------------------------------------------------------------
# dispatch


AnswerKey = tuple[str, tuple[tuple[str, tuple[str, ...]], ...], datetime]
"""(method, parameters but the key, clock reading): what a successful answer depends on."""


@dataclass
class EmulatorState:
    """Everything a running emulator shares between requests."""

    world: World
    clock: EmulatorClock
    ledger: QuotaLedger
    faults: FaultInjector
    requests_served: int = 0
    answers: dict[AnswerKey, bytes] = field(default_factory=dict)
    answers_bytes: int = 0

    def remember(self, cache_key: AnswerKey, payload: bytes) -> None:
        """Keep an answer, within a memory budget (oldest first out)."""
        self.answers[cache_key] = payload
        self.answers_bytes += len(payload)
        while self.answers_bytes > ANSWER_CACHE_BYTES and self.answers:
            oldest = next(iter(self.answers))
            self.answers_bytes -= len(self.answers.pop(oldest))


Handler = Callable[[Call], dict[str, Any]]


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def _send_bytes(
    send: Send, status: int, payload: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=UTF-8"),
                (b"content-length", str(len(payload)).encode()),
                (b"vary", b"Origin, X-Origin, Referer"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class ApiEndpoint:
    """One API method as a raw ASGI app: faults, key, quota, handler, ledger, response."""

    def __init__(self, state: EmulatorState, method: str, handler: Handler) -> None:
        self.state = state
        self.method = method
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one API request: check key and quota, inject faults, and answer."""
        state = self.state
        decision = state.faults.decide()
        # The injected latency is the answer's response time, as a real server's latency includes
        # its own work: the emulator's compute (serial on its one event loop, so requests arriving
        # together would queue behind each other) is inside the delay, not added to it.
        deadline = time.monotonic() + decision.delay_seconds
        fault = decision.fault
        if fault is Fault.CONNECTION_RESET:
            await _sleep_until(deadline)
            _reset_connection(scope)
            return
        failure = _FAULT_FAILURES.get(fault) if fault is not None else None
        if failure is not None:
            headers = [(b"retry-after", b"1")] if failure.code == 429 else []
            await _sleep_until(deadline)
            await _send_bytes(send, failure.code, _encode(failure.body()), headers)
            return
        if scope.get("method", "GET") != "GET":
            await _sleep_until(deadline)
            await _send_bytes(send, 405, _encode(_bad_request("Method not allowed").body()))
            return
        params = Params(scope.get("query_string", b""))
        status, payload = self._answer(params)
        if fault is Fault.TRUNCATED and status == 200:
            payload = payload[: max(len(payload) // 2, 1)]
        elif fault is Fault.MALFORMED and status == 200:
            payload = b"<!DOCTYPE html><html><body>502. That\xe2\x80\x99s an error.</body></html>"
        state.requests_served += 1
        # The world's time, as the real API stamps its answers: clients date snapshots with it.
        date = email.utils.format_datetime(state.clock.now(), usegmt=True).encode()
        await _sleep_until(deadline)
        await _send_bytes(send, status, payload, [(b"date", date)])

    def _answer(self, params: Params) -> tuple[int, bytes]:
        state = self.state
        now = state.clock.now()
        key = params.get("key")
        if key is None or not state.ledger.knows(key):
            return 400, _encode(key_invalid().body())
        if state.ledger.exhausted(key, self.method, now):
            state.ledger.try_charge(key, self.method, now)  # records the refused call
            return 403, _encode(quota_exceeded().body())
        # A successful answer is a pure function of (method, parameters but the key, clock reading):
        # repeated reads at a standing clock (retries, refreshes, repeated benchmark runs) reuse it.
        cache_key = (self.method, params.fingerprint(), now)
        payload = state.answers.get(cache_key)
        if payload is None:
            try:
                body = self.handler(Call(params, state.world.observe(now), now))
            except ApiFailure as failure:
                if failure.charge:
                    state.ledger.charge_rejected(key, self.method, now)
                return failure.code, _encode(failure.body())
            payload = _encode(body)
            state.remember(cache_key, payload)
        if not state.ledger.try_charge(key, self.method, now):
            return 403, _encode(quota_exceeded().body())
        return 200, payload


async def _sleep_until(deadline: float) -> None:
    """Wait until ``deadline`` (a ``time.monotonic()`` reading), if it is still ahead."""
    left = deadline - time.monotonic()
    if left > 0:
        await asyncio.sleep(left)


def _reset_connection(scope: Scope) -> None:
    """Drop the connection without an answer (what a flaky proxy does).

    Under uvicorn the socket is aborted; in process (httpx.ASGITransport) the client sees the same
    exception a dropped connection raises.
    """
    raw_send = scope.get("tubescope.raw_send")
    cycle = getattr(raw_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is not None and transport is not None and hasattr(transport, "abort"):
        cycle.disconnected = True  # uvicorn then skips its "no response" 500
        transport.abort()
        return
    raise httpx.RemoteProtocolError("Server disconnected without sending a response (injected reset).")


class EmulatorApp(Starlette):
    """Starlette app that hands endpoints the server's own ``send`` (for connection resets)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route a request to the API, the admin endpoints or the landing page."""
        if scope["type"] == "http":
            scope["tubescope.raw_send"] = send
        await super().__call__(scope, receive, send)


def create_app(
    world: World,
    *,
    clock: EmulatorClock | None = None,
    keys: Mapping[str, int] | None = None,
    faults: FaultConfig | None = None,
) -> EmulatorApp:
    """The emulator as an ASGI app.

    ``keys`` maps API key -> daily quota units (default: :data:`DEMO_KEYS`). The app's state holds
    ``world``, ``clock``, ``ledger`` (:class:`QuotaLedger`), ``faults`` (:class:`FaultInjector`)
    and ``emulator`` (:class:`EmulatorState`).
    """
    state = EmulatorState(
        world=world,
        clock=clock or EmulatorClock(),
        ledger=QuotaLedger(dict(keys) if keys is not None else dict(DEMO_KEYS)),
        faults=FaultInjector(faults),
    )
    api: list[tuple[str, str, Handler]] = [
        ("channels", "channels.list", handle_channels),
        ("playlistItems", "playlistItems.list", handle_playlist_items),
        ("videos", "videos.list", handle_videos),
        ("videos:batchGetStats", "videos.batchGetStats", handle_batch_get_stats),
        ("commentThreads", "commentThreads.list", handle_comment_threads),
        ("comments", "comments.list", handle_comments),
        ("search", "search.list", handle_search),
    ]
    routes = [
        Route(f"{API_PREFIX}/{path}", ApiEndpoint(state, method, handler)) for path, method, handler in api
    ]
    hub = WebSubHub(world)
    hub_endpoint, hub_admin = hub_routes_handlers(hub, state.clock.now)
    routes += [
        Route("/websub/hub", hub_endpoint, methods=["POST"]),
        Route("/_admin/websub", hub_admin),
    ]
    routes += _admin_routes(state, hub)
    app = EmulatorApp(routes=routes)
    app.state.hub = hub
    app.state.emulator = state
    app.state.world = world
    app.state.clock = state.clock
    app.state.ledger = state.ledger
    app.state.faults = state.faults
    return app


def _admin_routes(state: EmulatorState, hub: WebSubHub | None = None) -> list[Route]:
    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "now": state.clock.now().isoformat(), "seed": state.world.seed})

    async def quota(_: Request) -> Response:
        return JSONResponse(state.ledger.snapshot(state.clock.now()))

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            before = state.clock.now()
            try:
                data = await request.json()
                if "now" in data:
                    state.clock.set(datetime.fromisoformat(str(data["now"]).replace("Z", "+00:00")))
                elif "advance_seconds" in data:
                    state.clock.advance(float(data["advance_seconds"]))
                else:
                    raise ValueError("send {'now': iso-8601} or {'advance_seconds': n}")
            except (ValueError, TypeError, json.JSONDecodeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            if hub is not None:  # the world published videos meanwhile: the hub pushes them
                pushed = await hub.publish_between(before, state.clock.now())
                return JSONResponse({"now": state.clock.now().isoformat(), "websub_pushes": pushed})
        return JSONResponse({"now": state.clock.now().isoformat()})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                data = await request.json()
                if not isinstance(data, dict):
                    raise ValueError("send a JSON object of fault settings")
                state.faults.configure(FaultConfig.from_dict(data, base=FaultConfig()))
            except (ValueError, TypeError, json.JSONDecodeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"config": state.faults.config.to_dict(), "injected": state.faults.injected})

    return [
        Route("/_admin/health", health),
        Route("/_admin/quota", quota),
        Route("/_admin/clock", clock, methods=["GET", "POST"]),
        Route("/_admin/faults", faults, methods=["GET", "POST"]),
    ]


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    seed: int = 7,
    n_channels: int = 20,
    daily_quota: int = DEFAULT_DAILY_QUOTA,
    latency_ms: float = 0.0,
    error_rate: float = 0.0,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve a fresh world with uvicorn until interrupted (the ``tubescope emulator serve`` job)."""
    import uvicorn

    if not 0.0 <= error_rate <= 1.0:
        raise ValueError("error rate must be between 0 and 1")
    world = World(seed=seed, n_channels=n_channels)
    keys = dict.fromkeys(DEMO_KEYS, daily_quota)
    app = create_app(
        world,
        clock=RunningClock(),
        keys=keys,
        faults=FaultConfig(seed=seed, latency_ms=latency_ms, backend_error_rate=error_rate),
    )
    for line in banner(world, host, port, keys):
        echo(line)
    # date_header=False: the emulator sends its world's time as Date, not the machine's.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, date_header=False)


def banner(world: World, host: str, port: int, keys: Iterable[str], *, examples: int = 4) -> list[str]:
    """What ``emulator serve`` prints: the base URL, the demo keys and a few channels to try."""
    lines = [f"http://{host}:{port}{API_PREFIX}", "demo keys: " + ", ".join(keys), "channels to try:"]
    for index in range(min(examples, world.n_channels)):
        lines.append(f"  {world.handle_of(index)}  {world.channel_id(index)}")
    return lines
