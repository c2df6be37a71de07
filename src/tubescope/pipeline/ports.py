"""What the collector needs from the API client and from the warehouse, and nothing more.

The collector is written against these two small protocols; :mod:`tubescope.pipeline.adapters`
fits them onto the real client (:mod:`tubescope.youtube`) and the real warehouse
(:mod:`tubescope.warehouse`). Keeping the seam here means the orchestration can be read, and
reasoned about, without knowing how either side is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tubescope.domain.models import Channel, ChannelSnapshot, Comment, Video, VideoSnapshot
from tubescope.domain.refs import ChannelRef
from tubescope.pipeline.validate import Rejected


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list call: raw items (as the API sent them) and the next page token."""

    items: Sequence[Any]
    next_page_token: str | None


class CollectApi(Protocol):
    """The Data API calls a collection makes. Items are raw JSON objects (dicts)."""

    @property
    def key_fingerprints(self) -> Sequence[str]:
        """Fingerprints of the API keys in use (never the keys)."""

    @property
    def quota_spent(self) -> int:
        """Quota units spent so far."""

    def quota_by_key(self) -> Mapping[str, int]:
        """Quota units spent so far, per key fingerprint."""

    async def lookup_channel(self, ref: ChannelRef, *, allow_search: bool) -> Any | None:
        """The channel item (snippet, contentDetails, statistics) ``ref`` points at; None if none."""
        ...

    async def playlist_page(self, playlist_id: str, page_token: str | None) -> Page:
        """One page of a playlist's items."""

    async def videos(self, video_ids: Sequence[str]) -> Sequence[Any]:
        """The video resources of ``video_ids``."""

    async def video_stats(self, video_ids: Sequence[str]) -> Sequence[Any] | None:
        """Statistics items of up to 50 known videos from ``videos.batchGetStats`` (its own quota
        bucket); None when the server lacks it or that bucket is spent: use :meth:`videos`."""
        ...

    async def comment_threads(self, video_id: str, page_token: str | None, max_results: int) -> Page:
        """One page of a video's comment threads."""

    async def comment_replies(self, parent_id: str, page_token: str | None) -> Page:
        """One page of replies to the comment ``parent_id``."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far one channel of one run got: the walk's page token and the videos already stored."""

    page_token: str | None = None
    pages_done: int = 0
    channel_done: bool = False
    done_video_ids: frozenset[str] = frozenset()
    comments_done_video_ids: frozenset[str] = frozenset()

    @property
    def walk_done(self) -> bool:
        """Whether the uploads playlist was walked to its end."""
        return self.pages_done > 0 and self.page_token is None


@dataclass(frozen=True, slots=True)
class ChannelStart:
    """Everything the collector needs to know before crawling a channel, read in one go."""

    checkpoint: Checkpoint
    known_ids: frozenset[str]
    """Live videos first stored by an earlier run (the incremental walk stops at these)."""
    crawl_complete: bool


@dataclass(frozen=True, slots=True)
class ChannelBegin:
    """A looked-up channel about to be crawled: what :meth:`CollectStore.begin_channels` stores."""

    channel: Channel
    snapshot: ChannelSnapshot
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelFinish:
    """A channel whose walk and refresh are committed: what :meth:`CollectStore.finish_channels`
    marks done."""

    channel_id: str
    full_walk: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class Tombstone:
    """A video that disappeared from its channel, and why."""

    video_id: str
    reason: str


@dataclass(slots=True)
class VideoBatch:
    """Everything one ``videos.list`` call produced; written in one transaction with its checkpoint."""

    channel_id: str
    videos: list[Video] = field(default_factory=list)
    snapshots: list[VideoSnapshot] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    tombstones: list[Tombstone] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    """Listed ids the API did not return (private or deleted since): done, nothing to store."""

    @property
    def done_ids(self) -> list[str]:
        """Ids of every video this batch settles (stored, tombstoned or skipped)."""
        ids = (
            [v.video_id for v in self.videos]
            + [s.video_id for s in self.snapshots]
            + [t.video_id for t in self.tombstones]
            + list(self.unavailable)
            + [r.item_id for r in self.rejected if r.item_id]
        )
        return list(dict.fromkeys(ids))


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """One batch and where the channel's checkpoint stands once it is stored."""

    batch: VideoBatch
    page_token: str | None
    pages_done: int
    advance_checkpoint: bool
    """False: leave the page token as it is (refresh batches, pages still pending below)."""


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What a write actually changed (idempotent writes report 0 for rows already there)."""

    videos_new: int = 0
    videos_updated: int = 0
    snapshots: int = 0
    quarantined: int = 0
    tombstoned: int = 0


@dataclass(frozen=True, slots=True)
class RunRecord:
    """The collection run in use and whether it resumes an earlier one."""

    run_id: int
    resumed: bool


class CollectStore(Protocol):
    """The warehouse as the collector uses it. Each write is one transaction."""

    def open_run(
        self, *, source: str, refs: Sequence[str], key_fingerprints: Sequence[str], started_at: datetime
    ) -> RunRecord:
        """Resume the latest unfinished run for the same refs, or start a new one."""
        ...

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        quota_by_key: Mapping[str, int],
        counters: Mapping[str, int],
        error: str | None,
        finished_at: datetime,
    ) -> None:
        """Record how a collection run ended."""

    def known_channel_id(self, ref: ChannelRef) -> str | None:
        """The channel id a reference resolved to before (no request), if the warehouse knows."""
        ...

    def stored_video_count(self, channel_id: str) -> int | None:
        """The channel's ``videoCount`` as last stored, None when never collected."""
        ...

    def known_video_ids(self, channel_id: str, *, before_run: int | None) -> frozenset[str]:
        """Live (not tombstoned) videos of the channel first stored by a run other than ``before_run``."""
        ...

    def crawl_complete(self, channel_id: str) -> bool:
        """True once a full walk of the channel's uploads playlist has finished in some run."""
        ...

    def checkpoint(self, run_id: int, channel_id: str) -> Checkpoint:
        """Where run ``run_id`` left the walk of ``channel_id``."""

    def begin_channel(
        self, run_id: int, channel: Channel, snapshot: ChannelSnapshot, *, fetched_at: datetime
    ) -> ChannelStart:
        """Store the channel and its snapshot, then read its checkpoint and incremental state."""
        ...

    def begin_channels(self, run_id: int, starts: Sequence[ChannelBegin]) -> list[ChannelStart]:
        """:meth:`begin_channel` for several channels in ONE transaction; results in their order."""
        ...

    def write_batches(
        self, run_id: int, writes: Sequence[PendingWrite], *, fetched_at: datetime
    ) -> BatchCounts:
        """Store several batches (of any channels) and their checkpoints in ONE transaction.

        Checkpoints apply in order: for each channel the last write that advances it wins.
        """
        ...

    def quarantine(self, run_id: int, rejected: Sequence[Rejected], *, at: datetime) -> int:
        """Quarantine records that failed validation; returns how many were stored."""

    def finish_channel(self, run_id: int, channel_id: str, *, full_walk: bool, at: datetime) -> int:
        """Mark the channel's crawl done in this run; returns its live stored videos."""
        ...

    def finish_channels(self, run_id: int, finishes: Sequence[ChannelFinish]) -> list[int]:
        """:meth:`finish_channel` for several channels in ONE transaction; counts in their order."""
        ...

    def write_comments(
        self,
        run_id: int,
        channel_id: str,
        video_id: str,
        comments: Sequence[Comment],
        rejected: Sequence[Rejected],
        *,
        fetched_at: datetime,
    ) -> int:
        """Store one video's comments and mark its comments done for this run; returns rows written."""
        ...

    def count_live_videos(self, channel_id: str) -> int:
        """The number of the channel's stored videos that are not deleted."""

    def open_gaps(self, channel_id: str) -> list[str]:
        """Video ids of ``channel_id`` that earlier runs could not fetch and that are still not stored."""
        ...
