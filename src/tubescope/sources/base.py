"""The one plug point for where channel data comes from.

A :class:`Source` yields domain records (:mod:`tubescope.domain.models`), never API shapes, so the
pipeline can take data from the Data API, a CSV export or a test double alike. Sources register
under the ``tubescope.sources`` entry-point group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tubescope.domain.models import Channel, ChannelSnapshot, Comment, Video, VideoSnapshot
from tubescope.domain.refs import ChannelRef


@dataclass(frozen=True, slots=True)
class ChannelFetch:
    """A channel and its snapshot as a source returned them."""

    channel: Channel
    snapshot: ChannelSnapshot


@dataclass(frozen=True, slots=True)
class UploadPage:
    """One page of a channel's uploads, newest first; ``next_page_token`` resumes after it."""

    video_ids: tuple[str, ...]
    next_page_token: str | None


@dataclass(frozen=True, slots=True)
class VideoFetch:
    """Videos and snapshots as a source returned them, and the ids it could not find."""

    videos: list[Video] = field(default_factory=list)
    snapshots: list[VideoSnapshot] = field(default_factory=list)
    missing_ids: list[str] = field(default_factory=list)
    """Asked-for ids the source did not return: deleted or private since they were listed."""


@runtime_checkable
class Source(Protocol):
    """Where channel and video data come from."""

    name: str

    async def fetch_channel(self, ref: ChannelRef, *, allow_search: bool = False) -> ChannelFetch:
        """The channel ``ref`` points at and its current counts; ChannelNotFound if there is none."""
        ...

    def iter_upload_ids(
        self, channel: Channel, *, start_page_token: str | None = None
    ) -> AsyncIterator[UploadPage]:
        """Every upload of ``channel``, page by page, resumable from a saved token."""
        ...

    async def fetch_shorts_ids(self, channel_id: str) -> frozenset[str] | None:
        """Ids of the channel's Shorts, or None when the source cannot tell."""
        ...

    async def fetch_videos(
        self, video_ids: Sequence[str], *, shorts_ids: Collection[str] | None = None
    ) -> VideoFetch:
        """Metadata and a statistics snapshot for each id; any number of ids."""
        ...

    def fetch_comments(self, video_id: str, *, max_threads: int | None = None) -> AsyncIterator[Comment]:
        """Top-level comments with all their replies."""
        ...

    async def aclose(self) -> None:
        """Release the source's connections."""
