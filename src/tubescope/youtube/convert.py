"""From API resources (:mod:`tubescope.youtube.models`) to the records tubescope stores.

Pure functions over the one converter the pipeline uses (:mod:`tubescope.youtube.items`): a
resource goes back to its JSON shape and through the same checks, so both paths store the same
record. A resource that lacks a part the record needs raises
:class:`~tubescope.errors.DataQualityError` naming the resource and the part, never a made-up 0.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from tubescope.domain import models as domain
from tubescope.errors import DataQualityError
from tubescope.youtube import items
from tubescope.youtube import models as api

_T = TypeVar("_T")
_NO_TIME = datetime(2005, 1, 1, tzinfo=UTC)
"""Stands in for the observation time where only the record (not a snapshot) is wanted."""


def _json(resource: api.ApiModel) -> dict[str, Any]:
    """The resource back in the API's JSON shape (fields the API left out stay out)."""
    return resource.model_dump(by_alias=True, mode="json", exclude_none=True)


def _accepted(result: items.Accepted[_T] | items.Rejected, what: str, ident: str) -> _T:
    if isinstance(result, items.Rejected):
        raise DataQualityError(f"{what} {ident}: {result.reason}")
    return result.record


def to_domain_channel(channel: api.Channel, observed_at: datetime | None = None) -> domain.Channel:
    """The channel record, through the pipeline's own converter (:mod:`tubescope.youtube.items`)."""
    checked = items.validate_channel(
        _json(channel), observed_at=observed_at or _NO_TIME, check_time=bool(observed_at)
    )
    return _accepted(checked, "channel", channel.id).channel


def to_domain_channel_snapshot(channel: api.Channel, observed_at: datetime) -> domain.ChannelSnapshot:
    """A validated channel snapshot from an API channel resource."""
    return _accepted(
        items.validate_channel(_json(channel), observed_at=observed_at), "channel", channel.id
    ).snapshot


def to_domain_video(
    video: api.Video, in_shorts_playlist: bool | None, observed_at: datetime | None = None
) -> domain.Video:
    """``in_shorts_playlist``: membership of the channel's ``UUSH`` playlist, None when not known."""
    snippet = _need(video.snippet, "video", video.id, "snippet")
    checked = items.validate_video(
        _json(video),
        channel_id=snippet.channel_id,
        observed_at=observed_at or _NO_TIME,
        in_shorts_playlist=in_shorts_playlist,
        check_time=bool(observed_at),
    )
    return _accepted(checked, "video", video.id).video


def to_domain_video_snapshot(video: api.Video | api.VideoStat, observed_at: datetime) -> domain.VideoSnapshot:
    """A validated video snapshot from an API video or video-stat resource."""
    stats = _need(video.statistics, "video", video.id, "statistics")
    try:
        return items.video_snapshot(video.id, _json(stats), observed_at)
    except items.InvalidItem as exc:
        raise DataQualityError(f"video {video.id}: {exc}") from None


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
