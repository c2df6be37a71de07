"""Data API v3 resources as pydantic models, tolerant of the format drift seen in real responses.

Drift these models absorb, all present in the recorded fixtures: etags wrapped in quotes (before
2020) or bare; timestamps with or without milliseconds; every count a JSON string (``"12345"``)
while comment like counts are numbers; ``likeCount``/``commentCount`` absent when hidden (None,
never 0); ``hiddenSubscriberCount``; durations in ISO-8601 or the protobuf ``"3725s"`` form of
``videos.batchGetStats``. Unknown fields are ignored so that new API fields never break a crawl.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


Etag = Annotated[str | None, BeforeValidator(_unquote)]
Count = Annotated[int | None, BeforeValidator(_blank_to_none)]
"""A uint64 the API sends as a string; None when absent (hidden or disabled)."""
OptionalTime = Annotated[datetime | None, BeforeValidator(_blank_to_none)]


class ApiModel(BaseModel):
    """Base of the API models: camelCase aliases, unknown fields ignored, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True, protected_namespaces=()
    )


class PageInfo(ApiModel):
    """Paging totals of a list response."""

    total_results: int | None = None
    results_per_page: int | None = None


# ---------------------------------------------------------------- channels


class ChannelSnippet(ApiModel):
    """A channel's ``snippet`` part."""

    title: str = ""
    description: str = ""
    custom_url: str | None = None
    published_at: OptionalTime = None
    country: str | None = None
    default_language: str | None = None


class RelatedPlaylists(ApiModel):
    """A channel's related playlists (uploads, likes)."""

    uploads: str | None = None
    likes: str | None = None


class ChannelContentDetails(ApiModel):
    """A channel's ``contentDetails`` part."""

    related_playlists: RelatedPlaylists = RelatedPlaylists()


class ChannelStatistics(ApiModel):
    """A channel's ``statistics`` part."""

    view_count: Count = None
    subscriber_count: Count = None
    hidden_subscriber_count: bool = False
    video_count: Count = None


class Channel(ApiModel):
    """A ``youtube#channel`` resource."""

    kind: str = "youtube#channel"
    etag: Etag = None
    id: str
    snippet: ChannelSnippet | None = None
    content_details: ChannelContentDetails | None = None
    statistics: ChannelStatistics | None = None

    @property
    def uploads_playlist_id(self) -> str:
        """``contentDetails.relatedPlaylists.uploads``, or the ``UU…`` id it always equals."""
        if self.content_details and self.content_details.related_playlists.uploads:
            return self.content_details.related_playlists.uploads
        return "UU" + self.id[2:]

    @property
    def handle(self) -> str | None:
        """The ``@handle`` from ``snippet.customUrl``; older channels show a bare vanity name there."""
        custom = self.snippet.custom_url if self.snippet else None
        if custom and custom.startswith("@"):
            return custom
        return None


# ---------------------------------------------------------------- playlist items


class ResourceId(ApiModel):
    """What a playlist item or search result points at."""

    kind: str | None = None
    video_id: str | None = None
    channel_id: str | None = None


class PlaylistItemSnippet(ApiModel):
    """A playlist item's ``snippet`` part."""

    published_at: OptionalTime = None
    """When the item was added to the playlist, not when the video was published."""
    channel_id: str | None = None
    title: str = ""
    description: str = ""
    playlist_id: str | None = None
    position: int | None = None
    resource_id: ResourceId | None = None
    video_owner_channel_id: str | None = None


class PlaylistItemContentDetails(ApiModel):
    """A playlist item's ``contentDetails`` part."""

    video_id: str | None = None
    video_published_at: OptionalTime = None


class PlaylistItemStatus(ApiModel):
    """A playlist item's ``status`` part."""

    privacy_status: str | None = None


class PlaylistItem(ApiModel):
    """A ``youtube#playlistItem`` resource."""

    kind: str = "youtube#playlistItem"
    etag: Etag = None
    id: str
    snippet: PlaylistItemSnippet | None = None
    content_details: PlaylistItemContentDetails | None = None
    status: PlaylistItemStatus | None = None

    @property
    def video_id(self) -> str | None:
        """The id of the video the item points at, or None."""
        if self.content_details and self.content_details.video_id:
            return self.content_details.video_id
        if self.snippet and self.snippet.resource_id:
            return self.snippet.resource_id.video_id
        return None

    @property
    def video_published_at(self) -> datetime | None:
        """When the video the item points at was published, or None."""
        return self.content_details.video_published_at if self.content_details else None


# ---------------------------------------------------------------- videos


class VideoSnippet(ApiModel):
    """A video's ``snippet`` part."""

    published_at: datetime
    channel_id: str
    title: str = ""
    description: str = ""
    channel_title: str | None = None
    tags: tuple[str, ...] = ()
    category_id: str | None = None
    live_broadcast_content: str = "none"
    default_language: str | None = None
    default_audio_language: str | None = None


class VideoContentDetails(ApiModel):
    """A video's ``contentDetails`` part."""

    duration: str | None = None
    definition: str | None = None
    caption: str | None = None
    licensed_content: bool | None = None
    dimension: str | None = None


class VideoStatistics(ApiModel):
    """A video's ``statistics`` part."""

    view_count: Count = None
    like_count: Count = None
    comment_count: Count = None
    favorite_count: Count = None
    dislike_count: Count = None


class VideoStatus(ApiModel):
    """A video's ``status`` part."""

    upload_status: str | None = None
    privacy_status: str | None = None
    made_for_kids: bool | None = None


class LiveStreamingDetails(ApiModel):
    """A live stream's ``liveStreamingDetails`` part."""

    actual_start_time: OptionalTime = None
    actual_end_time: OptionalTime = None
    scheduled_start_time: OptionalTime = None
    scheduled_end_time: OptionalTime = None
    concurrent_viewers: Count = None


class Video(ApiModel):
    """A ``youtube#video`` resource."""

    kind: str = "youtube#video"
    etag: Etag = None
    id: str
    snippet: VideoSnippet | None = None
    content_details: VideoContentDetails | None = None
    statistics: VideoStatistics | None = None
    status: VideoStatus | None = None
    live_streaming_details: LiveStreamingDetails | None = None


class VideoStatSnippet(ApiModel):
    """The ``snippet`` part of a ``videos.batchGetStats`` item."""

    publish_time: OptionalTime = Field(
        default=None, validation_alias=AliasChoices("publishTime", "publishedAt", "publish_time")
    )


class VideoStatContentDetails(ApiModel):
    """The ``contentDetails`` part of a ``videos.batchGetStats`` item."""

    duration: str | None = None
    """Protobuf Duration form (``"3725s"``) from batchGetStats, ISO-8601 from the videos.list fallback."""


class VideoStat(ApiModel):
    """One item of ``videos.batchGetStats`` (or the same facts read from ``videos.list``)."""

    kind: str = "youtube#videoStats"
    etag: Etag = None
    id: str
    snippet: VideoStatSnippet | None = None
    statistics: VideoStatistics | None = None
    content_details: VideoStatContentDetails | None = None

    @classmethod
    def from_video(cls, video: Video) -> VideoStat:
        """The stats item a full video resource implies."""
        return cls(
            kind="youtube#videoStats",
            etag=video.etag,
            id=video.id,
            snippet=VideoStatSnippet(publish_time=video.snippet.published_at if video.snippet else None),
            statistics=video.statistics,
            content_details=VideoStatContentDetails(
                duration=video.content_details.duration if video.content_details else None
            ),
        )


# ---------------------------------------------------------------- comments


class AuthorChannelId(ApiModel):
    """The channel id of a comment's author."""

    value: str | None = None


class CommentSnippet(ApiModel):
    """A comment's ``snippet`` part."""

    author_display_name: str = ""
    author_channel_id: AuthorChannelId | None = None
    channel_id: str | None = None
    video_id: str | None = None
    text_display: str = ""
    text_original: str | None = None
    parent_id: str | None = None
    like_count: int = 0
    published_at: datetime
    updated_at: OptionalTime = None


class Comment(ApiModel):
    """A ``youtube#comment`` resource."""

    kind: str = "youtube#comment"
    etag: Etag = None
    id: str
    snippet: CommentSnippet


class CommentThreadSnippet(ApiModel):
    """A comment thread's ``snippet`` part."""

    channel_id: str | None = None
    video_id: str | None = None
    top_level_comment: Comment
    total_reply_count: int = 0
    can_reply: bool | None = None
    is_public: bool | None = None


class CommentThreadReplies(ApiModel):
    """Replies included with a comment thread."""

    comments: tuple[Comment, ...] = ()


class CommentThread(ApiModel):
    """A ``youtube#commentThread`` resource."""

    kind: str = "youtube#commentThread"
    etag: Etag = None
    id: str
    snippet: CommentThreadSnippet
    replies: CommentThreadReplies | None = None

    @property
    def has_more_replies(self) -> bool:
        """``replies`` holds only a few; page ``comments.list?parentId=`` when there are more."""
        shown = len(self.replies.comments) if self.replies else 0
        return self.snippet.total_reply_count > shown


# ---------------------------------------------------------------- search


class SearchResultId(ApiModel):
    """What a search result is: a video, channel or playlist id."""

    kind: str | None = None
    video_id: str | None = None
    channel_id: str | None = None
    playlist_id: str | None = None


class SearchResultSnippet(ApiModel):
    """A search result's ``snippet`` part."""

    published_at: OptionalTime = None
    channel_id: str | None = None
    title: str = ""
    description: str = ""
    channel_title: str | None = None
    live_broadcast_content: str | None = None


class SearchResult(ApiModel):
    """A ``youtube#searchResult`` resource."""

    kind: str = "youtube#searchResult"
    etag: Etag = None
    id: SearchResultId
    snippet: SearchResultSnippet | None = None


# ---------------------------------------------------------------- list responses

ItemT = TypeVar("ItemT", bound=ApiModel)


class ListResponse(ApiModel, Generic[ItemT]):
    """One page of a list response, with its items."""

    kind: str | None = None
    etag: Etag = None
    next_page_token: str | None = None
    prev_page_token: str | None = None
    page_info: PageInfo | None = None
    items: tuple[ItemT, ...] = ()


ChannelListResponse = ListResponse[Channel]
PlaylistItemListResponse = ListResponse[PlaylistItem]
VideoListResponse = ListResponse[Video]
VideoStatListResponse = ListResponse[VideoStat]
CommentThreadListResponse = ListResponse[CommentThread]
CommentListResponse = ListResponse[Comment]
SearchListResponse = ListResponse[SearchResult]
