"""The one converter from Data API JSON to the domain: every item becomes a record or a rejection.

Used by both the collection pipeline (which stores rejections in the quarantine) and the YouTube
source plugin (:mod:`tubescope.youtube.convert`, which raises them as DataQualityError), so the
two can never disagree on a field. A field the API left out is None in the record, never 0 (a
channel without ``statistics`` or ``viewCount`` is stored with NULL counts); only a video's
``viewCount``, which its snapshot cannot do without, makes the item a rejection instead.

Nothing is dropped silently. An item that fails a check is returned as :class:`Rejected` with the raw
payload and a one-line reason; the collector writes it to the warehouse quarantine. The checks are
the ones a later analysis would otherwise trip over: ids of the right shape, an item that belongs to
the channel being crawled, parseable timestamps, counts that are whole non-negative numbers (YouTube
sends them as strings), and a duration that is either parseable or honestly unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from tubescope.domain.durations import parse_duration_seconds
from tubescope.domain.models import (
    Channel,
    ChannelSnapshot,
    Comment,
    LiveDetails,
    Video,
    VideoSnapshot,
    classify_format,
)
from tubescope.domain.refs import CHANNEL_ID, VIDEO_ID

T = TypeVar("T")

MAX_COUNT = 2**63 - 1
"""Counts are stored as 64-bit integers; a larger one is a hostile or corrupt answer."""
MAX_CLOCK_SKEW = timedelta(hours=1)
"""How far a timestamp may lie ahead of the time we observed it before it is called impossible."""
MAX_DURATION_SECONDS = 31 * 86_400
"""Longer than any video YouTube keeps (archived streams stop at 12 hours; 31 days is generous)."""
EARLIEST = datetime(2005, 1, 1, tzinfo=UTC)
"""YouTube did not exist before 2005: an earlier publish date is corrupt."""
_DIGITS = re.compile(r"[0-9]{1,30}")


class InvalidItem(ValueError):
    """One field of one item failed a check; the message is the quarantine reason."""


@dataclass(frozen=True, slots=True)
class Accepted(Generic[T]):
    """A record that passed validation."""

    record: T


@dataclass(frozen=True, slots=True)
class Rejected:
    """An API item that failed validation, with the reason and the raw item."""

    kind: str
    """``video``, ``channel``, ``comment`` or ``batch``."""
    item_id: str | None
    reason: str
    raw: Any


@dataclass(frozen=True, slots=True)
class ValidVideo:
    """A validated video and its snapshot."""

    video: Video
    snapshot: VideoSnapshot


@dataclass(frozen=True, slots=True)
class ValidChannel:
    """A validated channel and its snapshot."""

    channel: Channel
    snapshot: ChannelSnapshot


def parse_timestamp(value: Any, field: str, *, not_after: datetime | None = None) -> datetime:
    """An aware UTC time; with ``not_after`` (the observation time) one further ahead than
    :data:`MAX_CLOCK_SKEW`, or before YouTube existed, is rejected as impossible."""
    if not isinstance(value, str) or not value:
        raise InvalidItem(f"{field} is missing")
    text = value.strip()
    if len(text) > 64:
        raise InvalidItem(f"{field} is not an ISO-8601 timestamp: {value[:64]!r}…")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise InvalidItem(f"{field} has no time zone: {value!r}")
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidItem(f"{field} is not an ISO-8601 timestamp: {value!r}") from None
    if not_after is not None:
        if parsed > not_after + MAX_CLOCK_SKEW:
            raise InvalidItem(f"{field} {value!r} lies in the future (observed at {not_after.isoformat()})")
        if parsed < EARLIEST:
            raise InvalidItem(f"{field} {value!r} is before YouTube existed")
    return parsed


def parse_count(value: Any, field: str, *, required: bool) -> int | None:
    """A count as YouTube sends it (a JSON string of digits); None when absent and optional."""
    if value is None:
        if required:
            raise InvalidItem(f"{field} is missing")
        return None
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 30:
        # The common case (a plain string of ASCII digits) without a regex or a strip.
        number = int(value)
    elif isinstance(value, bool):
        raise InvalidItem(f"{field} is not a count: {value!r}")
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "…"
        raise InvalidItem(f"{field} is not a whole number: {shown!r}")
    if number < 0:
        raise InvalidItem(f"{field} is negative: {number}")
    if number > MAX_COUNT:
        raise InvalidItem(f"{field} is out of range: {str(number)[:40]} exceeds {MAX_COUNT}")
    return number


def _section(item: Mapping[str, Any], name: str, *, required: bool = True) -> Mapping[str, Any]:
    value = item.get(name)
    if type(value) is dict:  # what JSON decodes to: skip the slower abstract-class check
        return value
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidItem(f"{name} is missing or not an object")
    return value


def _text(section: Mapping[str, Any], name: str, where: str, *, default: str | None = None) -> str:
    value = section.get(name, default)
    if not isinstance(value, str):
        raise InvalidItem(f"{where}.{name} is missing or not text")
    return value


def _optional_text(section: Mapping[str, Any], name: str) -> str:
    value = section.get(name)
    return value if isinstance(value, str) else ""


def _item_id(item: Any) -> str | None:
    if isinstance(item, Mapping):
        value = item.get("id")
        if isinstance(value, str):
            return value
    return None


def validate_video(
    item: Any,
    *,
    channel_id: str,
    observed_at: datetime,
    in_shorts_playlist: bool | None = None,
    check_time: bool = True,
) -> Accepted[ValidVideo] | Rejected:
    """Check one ``videos.list`` item of ``channel_id`` and build its record and snapshot.

    ``check_time=False``: ``observed_at`` is not a real observation, so dates are not checked
    against it (a caller that only wants the record)."""
    try:
        return Accepted(_video(item, channel_id, observed_at, in_shorts_playlist, check_time))
    except InvalidItem as exc:
        return Rejected("video", _item_id(item), str(exc), item)


def _video(
    item: Any, channel_id: str, observed_at: datetime, in_shorts_playlist: bool | None, check_time: bool
) -> ValidVideo:
    if type(item) is not dict and not isinstance(item, Mapping):
        raise InvalidItem("the item is not an object")
    video_id = item.get("id")
    if not isinstance(video_id, str) or not VIDEO_ID.match(video_id):
        raise InvalidItem(f"id is not an 11-character video id: {video_id!r}")
    snippet = _section(item, "snippet")
    owner = snippet.get("channelId")
    if owner != channel_id:
        raise InvalidItem(f"snippet.channelId {owner!r} is not the channel being collected")
    title = _text(snippet, "title", "snippet", default="")  # absent: untitled, as the models read it
    published_at = parse_timestamp(
        snippet.get("publishedAt"), "snippet.publishedAt", not_after=observed_at if check_time else None
    )
    details = _section(item, "contentDetails", required=False)
    raw_duration = details.get("duration")
    if raw_duration is not None and not isinstance(raw_duration, str):
        raise InvalidItem(f"contentDetails.duration is not text: {raw_duration!r}")
    duration = parse_duration_seconds(raw_duration)
    if raw_duration and duration is None and raw_duration.strip() not in {"P0D", "PT0S"}:
        raise InvalidItem(f"contentDetails.duration is not ISO-8601: {raw_duration[:40]!r}")
    if duration is not None and duration > MAX_DURATION_SECONDS:
        raise InvalidItem(
            f"contentDetails.duration {str(raw_duration)[:40]!r} is impossibly long ({duration} s)"
        )
    snapshot = video_snapshot(video_id, _section(item, "statistics"), observed_at)
    tags_raw = snippet.get("tags", [])
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        raise InvalidItem("snippet.tags is not a list of text")
    live_content = snippet.get("liveBroadcastContent", "none")
    if not isinstance(live_content, str):
        raise InvalidItem("snippet.liveBroadcastContent is not text")
    live = _live_details(item.get("liveStreamingDetails"))
    was_live = live_content != "none" or live is not None
    status = _section(item, "status", required=False)
    privacy = status.get("privacyStatus")
    category = snippet.get("categoryId")
    language = snippet.get("defaultLanguage") or snippet.get("defaultAudioLanguage")
    video = Video(
        video_id=video_id,
        channel_id=channel_id,
        title=title,
        description=_optional_text(snippet, "description"),
        published_at=published_at,
        duration_seconds=duration,
        duration_raw=raw_duration,
        video_format=classify_format(duration, in_shorts_playlist=in_shorts_playlist, was_live=was_live),
        tags=tuple(tags_raw),
        category_id=category if isinstance(category, str) else None,
        default_language=language if isinstance(language, str) else None,
        live_broadcast_content=live_content,
        privacy_status=privacy if isinstance(privacy, str) else None,
        live=live,
    )
    return ValidVideo(video, snapshot)


def video_snapshot(video_id: str, stats: Mapping[str, Any], observed_at: datetime) -> VideoSnapshot:
    """A ``statistics`` section as a snapshot: ``viewCount`` is required, hidden counts are None.

    Raises :class:`InvalidItem` with the reason."""
    views = parse_count(stats.get("viewCount"), "statistics.viewCount", required=True)
    assert views is not None
    return VideoSnapshot(
        video_id=video_id,
        observed_at=observed_at,
        view_count=views,
        like_count=parse_count(stats.get("likeCount"), "statistics.likeCount", required=False),
        comment_count=parse_count(stats.get("commentCount"), "statistics.commentCount", required=False),
    )


def _live_details(section: Any) -> LiveDetails | None:
    """``liveStreamingDetails``; a time that cannot be read is None, like one not sent."""
    if not isinstance(section, Mapping):
        return None

    def when(name: str) -> datetime | None:
        raw = section.get(name)
        if raw is None:
            return None
        try:
            return parse_timestamp(raw, f"liveStreamingDetails.{name}")
        except InvalidItem:
            return None

    try:
        viewers = parse_count(section.get("concurrentViewers"), "concurrentViewers", required=False)
    except InvalidItem:
        viewers = None
    return LiveDetails(
        scheduled_start_at=when("scheduledStartTime"),
        actual_start_at=when("actualStartTime"),
        actual_end_at=when("actualEndTime"),
        concurrent_viewers=viewers,
    )


def validate_video_stat(item: Any, *, observed_at: datetime) -> Accepted[VideoSnapshot] | Rejected:
    """Check one ``videos.batchGetStats`` item (or a ``videos.list`` one) and build its snapshot.

    Only the statistics are read: a known video's metadata is not refreshed by its daily stats.
    """
    try:
        if not isinstance(item, Mapping):
            raise InvalidItem("the item is not an object")
        video_id = item.get("id")
        if not isinstance(video_id, str) or not VIDEO_ID.match(video_id):
            raise InvalidItem(f"id is not an 11-character video id: {video_id!r}")
        snapshot = video_snapshot(video_id, _section(item, "statistics"), observed_at)
    except InvalidItem as exc:
        return Rejected("video_stat", _item_id(item), str(exc), item)
    return Accepted(snapshot)


def validate_channel(
    item: Any, *, observed_at: datetime, check_time: bool = True
) -> Accepted[ValidChannel] | Rejected:
    """Check one ``channels.list`` item and build the channel and its snapshot."""
    try:
        return Accepted(_channel(item, observed_at, check_time))
    except InvalidItem as exc:
        return Rejected("channel", _item_id(item), str(exc), item)


def _channel(item: Any, observed_at: datetime, check_time: bool = True) -> ValidChannel:
    if not isinstance(item, Mapping):
        raise InvalidItem("the item is not an object")
    channel_id = item.get("id")
    if not isinstance(channel_id, str) or not CHANNEL_ID.match(channel_id):
        raise InvalidItem(f"id is not a UC… channel id: {channel_id!r}")
    snippet = _section(item, "snippet")
    title = _text(snippet, "title", "snippet", default="")  # absent: untitled, as the models read it
    published_raw = snippet.get("publishedAt")
    published_at = (
        parse_timestamp(published_raw, "snippet.publishedAt", not_after=observed_at if check_time else None)
        if published_raw
        else None
    )
    playlists = _section(_section(item, "contentDetails"), "relatedPlaylists")
    uploads = playlists.get("uploads")
    if not isinstance(uploads, str) or not uploads:
        raise InvalidItem("contentDetails.relatedPlaylists.uploads is missing")
    stats = _section(item, "statistics", required=False)  # absent: every count unknown (None)
    hidden = bool(stats.get("hiddenSubscriberCount", False))
    subscribers = parse_count(stats.get("subscriberCount"), "statistics.subscriberCount", required=False)
    if hidden:
        subscribers = None
    views = parse_count(stats.get("viewCount"), "statistics.viewCount", required=False)
    videos = parse_count(stats.get("videoCount"), "statistics.videoCount", required=False)
    handle = snippet.get("customUrl")
    if isinstance(handle, str) and handle and not handle.startswith("@"):
        handle = "@" + handle
    country = snippet.get("country")
    language = snippet.get("defaultLanguage")
    channel = Channel(
        channel_id=channel_id,
        title=title,
        handle=handle if isinstance(handle, str) and handle else None,
        description=_optional_text(snippet, "description"),
        published_at=published_at,
        country=country if isinstance(country, str) else None,
        default_language=language if isinstance(language, str) else None,
        uploads_playlist_id=uploads,
        subscriber_count=subscribers,
        hidden_subscriber_count=hidden,
        view_count=views,
        video_count=videos,
    )
    snapshot = ChannelSnapshot(
        channel_id=channel_id,
        observed_at=observed_at,
        subscriber_count=subscribers,
        view_count=views,
        video_count=videos,
    )
    return ValidChannel(channel, snapshot)


def playlist_video_id(item: Any) -> str | None:
    """The video id a ``playlistItems.list`` item points at, or None when it names none."""
    if not isinstance(item, Mapping):
        return None
    details = item.get("contentDetails")
    if isinstance(details, Mapping) and isinstance(details.get("videoId"), str):
        video_id: str = details["videoId"]
        return video_id if VIDEO_ID.match(video_id) else None
    snippet = item.get("snippet")
    if isinstance(snippet, Mapping):
        resource = snippet.get("resourceId")
        if isinstance(resource, Mapping) and isinstance(resource.get("videoId"), str):
            rid: str = resource["videoId"]
            return rid if VIDEO_ID.match(rid) else None
    return None


def validate_comment(item: Any, *, video_id: str, parent_id: str | None) -> Accepted[Comment] | Rejected:
    """Check one comment resource (a thread's top-level comment or a reply)."""
    try:
        return Accepted(_comment(item, video_id, parent_id))
    except InvalidItem as exc:
        return Rejected("comment", _item_id(item), str(exc), item)


def _comment(item: Any, video_id: str, parent_id: str | None) -> Comment:
    if not isinstance(item, Mapping):
        raise InvalidItem("the item is not an object")
    comment_id = item.get("id")
    if not isinstance(comment_id, str) or not comment_id:
        raise InvalidItem("id is missing")
    snippet = _section(item, "snippet")
    owner = snippet.get("videoId", video_id)
    if owner != video_id:
        raise InvalidItem(f"snippet.videoId {owner!r} is not the video being collected")
    text = snippet.get("textOriginal", snippet.get("textDisplay"))
    if not isinstance(text, str):
        raise InvalidItem("snippet.textOriginal is missing")
    author = snippet.get("authorDisplayName", "")
    likes = parse_count(snippet.get("likeCount", 0), "snippet.likeCount", required=True)
    updated_raw = snippet.get("updatedAt")
    assert likes is not None
    return Comment(
        comment_id=comment_id,
        video_id=video_id,
        parent_id=parent_id if parent_id is not None else _parent(snippet),
        author=author if isinstance(author, str) else "",
        text=text,
        like_count=likes,
        published_at=parse_timestamp(snippet.get("publishedAt"), "snippet.publishedAt"),
        updated_at=parse_timestamp(updated_raw, "snippet.updatedAt") if updated_raw else None,
    )


def _parent(snippet: Mapping[str, Any]) -> str | None:
    parent = snippet.get("parentId")
    return parent if isinstance(parent, str) and parent else None


def thread_parts(thread: Any) -> tuple[Any, list[Any], int]:
    """Top-level comment, inline replies and ``totalReplyCount`` of a ``commentThreads`` item."""
    if not isinstance(thread, Mapping):
        raise InvalidItem("the thread is not an object")
    snippet = _section(thread, "snippet")
    top = snippet.get("topLevelComment")
    replies_section = thread.get("replies")
    replies: list[Any] = []
    if isinstance(replies_section, Mapping) and isinstance(replies_section.get("comments"), list):
        replies = list(replies_section["comments"])
    total = parse_count(snippet.get("totalReplyCount", 0), "snippet.totalReplyCount", required=True)
    assert total is not None
    return top, replies, total
