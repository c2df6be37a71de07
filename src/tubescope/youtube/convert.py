"""From API resources (:mod:`tubescope.youtube.models`) to the records tubescope stores.

Pure functions. A resource that lacks a part the record needs raises
:class:`~tubescope.errors.DataQualityError` naming the resource and the part, so the pipeline can
quarantine it instead of storing a made-up value.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from tubescope.domain import models as domain
from tubescope.domain.durations import parse_duration_seconds
from tubescope.errors import DataQualityError
from tubescope.youtube import models as api

_T = TypeVar("_T")


def to_domain_channel(channel: api.Channel) -> domain.Channel:
    snippet = _need(channel.snippet, "channel", channel.id, "snippet")
    stats = _need(channel.statistics, "channel", channel.id, "statistics")
    return domain.Channel(
        channel_id=channel.id,
        title=snippet.title,
        handle=channel.handle,
        description=snippet.description,
        published_at=snippet.published_at,
        country=snippet.country,
        default_language=snippet.default_language,
        uploads_playlist_id=channel.uploads_playlist_id,
        subscriber_count=None if stats.hidden_subscriber_count else stats.subscriber_count,
        hidden_subscriber_count=stats.hidden_subscriber_count,
        view_count=stats.view_count or 0,
        video_count=stats.video_count or 0,
    )


def to_domain_channel_snapshot(channel: api.Channel, observed_at: datetime) -> domain.ChannelSnapshot:
    stats = _need(channel.statistics, "channel", channel.id, "statistics")
    return domain.ChannelSnapshot(
        channel_id=channel.id,
        observed_at=observed_at,
        subscriber_count=None if stats.hidden_subscriber_count else stats.subscriber_count,
        view_count=_need(stats.view_count, "channel", channel.id, "statistics.viewCount"),
        video_count=stats.video_count or 0,
    )


def to_domain_video(video: api.Video, in_shorts_playlist: bool | None) -> domain.Video:
    """``in_shorts_playlist``: membership of the channel's ``UUSH`` playlist, None when not known."""
    snippet = _need(video.snippet, "video", video.id, "snippet")
    raw_duration = video.content_details.duration if video.content_details else None
    seconds = parse_duration_seconds(raw_duration)
    was_live = video.live_streaming_details is not None or snippet.live_broadcast_content not in ("none", "")
    return domain.Video(
        video_id=video.id,
        channel_id=snippet.channel_id,
        title=snippet.title,
        description=snippet.description,
        published_at=snippet.published_at,
        duration_seconds=seconds,
        duration_raw=raw_duration,
        video_format=domain.classify_format(
            seconds, in_shorts_playlist=in_shorts_playlist, was_live=was_live
        ),
        tags=tuple(snippet.tags),
        category_id=snippet.category_id,
        default_language=snippet.default_language or snippet.default_audio_language,
        live_broadcast_content=snippet.live_broadcast_content,
        privacy_status=video.status.privacy_status if video.status else None,
    )


def to_domain_video_snapshot(video: api.Video | api.VideoStat, observed_at: datetime) -> domain.VideoSnapshot:
    stats = _need(video.statistics, "video", video.id, "statistics")
    return domain.VideoSnapshot(
        video_id=video.id,
        observed_at=observed_at,
        view_count=_need(stats.view_count, "video", video.id, "statistics.viewCount"),
        like_count=stats.like_count,
        comment_count=stats.comment_count,
    )


def to_domain_comment(comment: api.Comment, video_id: str | None = None) -> domain.Comment:
    """``video_id`` fills in replies from ``comments.list``, which do not always repeat it."""
    snippet = comment.snippet
    owner = snippet.video_id or video_id
    if owner is None:
        raise DataQualityError(f"comment {comment.id}: no videoId in the response and none given")
    extra: dict[str, str] = {}
    if snippet.author_channel_id and snippet.author_channel_id.value:
        extra["author_channel_id"] = snippet.author_channel_id.value
    return domain.Comment(
        comment_id=comment.id,
        video_id=owner,
        parent_id=snippet.parent_id,
        author=snippet.author_display_name,
        text=snippet.text_original if snippet.text_original is not None else snippet.text_display,
        like_count=snippet.like_count,
        published_at=snippet.published_at,
        updated_at=snippet.updated_at,
        extra=extra,
    )


def thread_to_domain_comments(thread: api.CommentThread) -> list[domain.Comment]:
    """The top-level comment (with its reply count) followed by the replies the thread carries."""
    video_id = thread.snippet.video_id or thread.snippet.top_level_comment.snippet.video_id
    top = to_domain_comment(thread.snippet.top_level_comment, video_id)
    top = domain.Comment(
        comment_id=top.comment_id,
        video_id=top.video_id,
        parent_id=None,
        author=top.author,
        text=top.text,
        like_count=top.like_count,
        published_at=top.published_at,
        updated_at=top.updated_at,
        reply_count=thread.snippet.total_reply_count,
        extra=top.extra,
    )
    replies = thread.replies.comments if thread.replies else ()
    return [top, *(to_domain_comment(reply, video_id) for reply in replies)]


def _need(value: _T | None, what: str, ident: str, part: str) -> _T:
    if value is None:
        raise DataQualityError(f"{what} {ident}: the response lacks {part}")
    return value
