"""The YouTube Data API v3 as a :class:`~tubescope.sources.base.Source` (entry point ``youtube``).

A thin layer over :class:`~tubescope.youtube.client.YouTubeClient`: it chooses the cheapest calls
(channels.list once, the uploads playlist 50 at a time, videos.list 50 ids at a time) and turns
API resources into domain records with the pipeline's own converter (:mod:`tubescope.youtube.items`,
through :mod:`tubescope.youtube.convert`). Quota, retries, keys and budget stay the client's business.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime

import httpx

from tubescope.domain.models import Channel, Comment
from tubescope.domain.refs import ChannelRef
from tubescope.sources.base import ChannelFetch, UploadPage, VideoFetch
from tubescope.youtube.client import ClientOptions, YouTubeClient
from tubescope.youtube.convert import (
    thread_to_domain_comments,
    to_domain_channel,
    to_domain_channel_snapshot,
    to_domain_comment,
    to_domain_video,
    to_domain_video_snapshot,
)
from tubescope.youtube.errors import ResourceUnavailable

Now = Callable[[], datetime]
SHORTS_PLAYLIST_PREFIX = "UUSH"
"""Undocumented sibling of the uploads playlist holding only Shorts; not every channel has one."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class YouTubeApiSource:
    """The YouTube Data API as a source."""

    name = "youtube"

    def __init__(self, client: YouTubeClient, *, now: Now = _utc_now) -> None:
        self.client = client
        self._now = now

    @classmethod
    def create(
        cls,
        api_base: str,
        keys: Sequence[str],
        options: ClientOptions | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Now = _utc_now,
    ) -> YouTubeApiSource:
        """A source with its own client for ``api_base`` and ``keys``."""
        return cls(YouTubeClient(api_base, keys, options, transport=transport), now=now)

    async def __aenter__(self) -> YouTubeApiSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the API client."""
        await self.client.aclose()

    async def fetch_channel(self, ref: ChannelRef, *, allow_search: bool = False) -> ChannelFetch:
        """The channel ``ref`` names, with its snapshot."""
        channel_id = await self.client.resolve_channel_id(ref, allow_search=allow_search)
        channel = await self.client.fetch_channel(channel_id)
        observed_at = self._now()
        return ChannelFetch(
            to_domain_channel(channel, observed_at), to_domain_channel_snapshot(channel, observed_at)
        )

    async def iter_upload_ids(
        self, channel: Channel, *, start_page_token: str | None = None
    ) -> AsyncIterator[UploadPage]:
        """The channel's upload ids, page by page."""
        pages = self.client.iter_playlist_pages(
            channel.uploads_playlist_id, parts=("contentDetails",), start_page_token=start_page_token
        )
        async for page in pages:
            ids = tuple(i for i in (item.video_id for item in page.items) if i)
            yield UploadPage(ids, page.next_page_token)

    async def fetch_shorts_ids(self, channel_id: str) -> frozenset[str] | None:
        """Ids of the channel's Shorts, or None when the Shorts playlist is not available."""
        playlist_id = SHORTS_PLAYLIST_PREFIX + channel_id[2:]
        found: set[str] = set()
        try:
            async for page in self.client.iter_playlist_pages(playlist_id, parts=("contentDetails",)):
                found.update(i for i in (item.video_id for item in page.items) if i)
        except ResourceUnavailable:
            return None  # no Shorts playlist: membership is unknown, fall back on duration
        return frozenset(found)

    async def fetch_videos(
        self, video_ids: Sequence[str], *, shorts_ids: Collection[str] | None = None
    ) -> VideoFetch:
        """``shorts_ids``: the channel's UUSH membership; None classifies Shorts by duration."""
        observed_at = self._now()
        api_videos = await self.client.videos_many(video_ids)
        shorts = None if shorts_ids is None else frozenset(shorts_ids)
        returned = {v.id for v in api_videos}
        return VideoFetch(
            videos=[
                to_domain_video(v, None if shorts is None else v.id in shorts, observed_at)
                for v in api_videos
            ],
            snapshots=[to_domain_video_snapshot(v, observed_at) for v in api_videos if v.statistics],
            missing_ids=[i for i in dict.fromkeys(video_ids) if i not in returned],
        )

    async def fetch_comments(
        self, video_id: str, *, max_threads: int | None = None
    ) -> AsyncIterator[Comment]:
        """Raises ResourceUnavailable (reason ``commentsDisabled``) when the video has none to give.

        Each comment is yielded once even if pages overlap (comments posted while paging shift them).
        """
        yielded: set[str] = set()
        threads_seen = 0
        async for page in self.client.iter_comment_thread_pages(video_id):
            for thread in page.items:
                if thread.id in yielded:
                    continue
                if max_threads is not None and threads_seen >= max_threads:
                    return
                threads_seen += 1
                comments = thread_to_domain_comments(thread)
                if thread.has_more_replies:
                    async for replies in self.client.iter_comment_pages(thread.id):
                        comments.extend(to_domain_comment(reply, video_id) for reply in replies.items)
                for comment in comments:
                    if comment.comment_id not in yielded:
                        yielded.add(comment.comment_id)
                        yield comment
