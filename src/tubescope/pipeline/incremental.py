"""Incremental collection as pure decisions: what to request, and what it will cost.

Quota arithmetic of one channel (every call below costs one unit):

* fresh crawl of N uploads: ``channels.list`` + ceil(N/50) ``playlistItems.list`` pages + ceil(N/50)
  ``videos.list`` batches, so ``1 + 2*ceil(N/50)``;
* re-run with k new uploads over K known ones (N = K + k): ``channels.list`` + the pages up to and
  including the first known video (``floor(k/50) + 1``). Full pages of new videos are fetched as
  they are walked; the new videos on the page where the walk stops join the refresh. Then:

  - where the server has ``videos.batchGetStats``, the known videos' daily statistics go through
    it, in a quota bucket of its own: ceil(K/50) units there, and ``videos.list`` only for the
    new videos, ceil(k/50); the main bucket pays ``1 + floor(k/50) + 1 + ceil(k/50)``;
  - otherwise new and known videos share ``videos.list`` batches: ceil(N/50), the least any
    fetch of N videos can cost, so the main bucket pays ``1 + floor(k/50) + 1 + ceil(N/50)``
    (``2 + ceil(N/50)`` while fewer than 50 videos are new);
* resolving a reference: 0 units for a ``UC…`` id, 0 extra units for ``@handle`` and ``/user/`` (the
  ``channels.list`` lookup that resolves them is the one that fetches the channel), 1 unit for a
  video URL (``videos.list`` tells whose video it is), 100 units (or one search call) for a
  ``/c/`` vanity URL.

Nothing here does IO: the collector feeds pages and known ids in and acts on the answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum

from tubescope.domain.refs import ChannelRef, RefKind

PAGE_SIZE = 50
"""Items per ``playlistItems.list`` page and ids per ``videos.list`` call: the API's maximum."""

UPLOADS_PLAYLIST_CAP = 20_000
"""The uploads playlist stops listing at about this many items."""


def pages(count: int, size: int = PAGE_SIZE) -> int:
    """How many requests of ``size`` items it takes to cover ``count`` items."""
    if count < 0:
        raise ValueError("count must not be negative")
    return -(-count // size)


def chunked(items: Sequence[str], size: int = PAGE_SIZE) -> Iterator[list[str]]:
    """``items`` in consecutive lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class WalkMode(StrEnum):
    """Whether a crawl walks every upload or stops at the first known one."""

    FULL = "full"
    """Walk the whole uploads playlist (first run, ``--full``, or an unfinished first crawl)."""
    INCREMENTAL = "incremental"
    """Walk until the first page holding an already known video, then refresh the known ones."""


def resolve_units(ref: ChannelRef) -> int:
    """Units spent turning ``ref`` into a channel id beyond the ``channels.list`` call itself."""
    if ref.kind is RefKind.VIDEO:
        return 1
    if ref.kind is RefKind.CUSTOM_URL:
        return 100
    return 0


def fresh_crawl_units(uploads: int) -> int:
    """Exact cost of a full crawl of a channel with ``uploads`` listed videos."""
    if uploads == 0:
        return 1
    return 1 + 2 * pages(uploads)


def incremental_units(new: int, known: int, *, stats_bucket: bool = False) -> int:
    """Exact main-bucket cost of a re-run that finds ``new`` uploads above ``known`` stored videos.

    Pages walked: every page of new videos plus the one where the first known video shows up
    (when there is a known video to find). With ``stats_bucket`` (the server has
    ``videos.batchGetStats``) only the new videos go through ``videos.list``; the known ones cost
    :func:`stats_units` in their own bucket. Without it, new and known share full batches.
    """
    if new < 0 or known < 0:
        raise ValueError("counts must not be negative")
    if known == 0:
        return fresh_crawl_units(new)
    walked = new // PAGE_SIZE + 1
    fetched = pages(new) if stats_bucket else pages(new + known)
    return 1 + walked + fetched


def stats_units(known: int) -> int:
    """``videos.batchGetStats`` units of a re-run's refresh of ``known`` videos (its own bucket)."""
    return pages(known)


def incremental_bound(new: int, total: int) -> int:
    """The issue's promise for a re-run: at most ``2 + ceil(k/50) + ceil(N/50)`` units."""
    return 2 + pages(new) + pages(total)


@dataclass(frozen=True, slots=True)
class KnownChannel:
    """What the warehouse already holds about one channel, as far as planning cares."""

    channel_id: str
    live_video_ids: frozenset[str] = frozenset()
    """Stored videos not tombstoned: the ones a re-run refreshes."""
    crawl_complete: bool = False
    """True once a full walk of the uploads playlist has finished for this channel."""
    last_video_count: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    """Planned units for one channel, itemised so a dry run can show its working."""

    ref: str
    channel_id: str | None
    mode: WalkMode
    expected_uploads: int
    known_videos: int
    resolve_units: int
    channel_units: int
    playlist_units: int
    videos_units: int
    shorts_units_max: int = 0
    comments_units_min: int = 0
    notes: tuple[str, ...] = ()

    @property
    def total_units(self) -> int:
        """The most quota units the channel's crawl can spend."""
        return (
            self.resolve_units
            + self.channel_units
            + self.playlist_units
            + self.videos_units
            + self.shorts_units_max
            + self.comments_units_min
        )

    def as_dict(self) -> dict[str, object]:
        """The plan as a JSON-safe dictionary."""
        return {
            "ref": self.ref,
            "channel_id": self.channel_id,
            "mode": str(self.mode),
            "expected_uploads": self.expected_uploads,
            "known_videos": self.known_videos,
            "units": {
                "resolve": self.resolve_units,
                "channels_list": self.channel_units,
                "playlist_items_list": self.playlist_units,
                "videos_list": self.videos_units,
                "shorts_playlist_max": self.shorts_units_max,
                "comments_min": self.comments_units_min,
                "total": self.total_units,
            },
            "notes": list(self.notes),
        }


def plan_channel(
    ref: ChannelRef,
    *,
    channel_id: str | None,
    video_count: int,
    known: KnownChannel | None,
    full: bool,
    detect_shorts: bool = False,
    comments: bool = False,
) -> ChannelPlan:
    """Plan one channel's crawl from its ``videoCount`` and what the warehouse holds.

    ``video_count`` is the channel's own count; the uploads playlist lists at most
    :data:`UPLOADS_PLAYLIST_CAP` of them, so the plan walks no more than that.
    """
    listed = min(max(video_count, 0), UPLOADS_PLAYLIST_CAP)
    notes: list[str] = []
    if video_count > UPLOADS_PLAYLIST_CAP:
        notes.append(f"the uploads playlist lists at most {UPLOADS_PLAYLIST_CAP} of {video_count} videos")
    resolve = resolve_units(ref)
    if ref.kind in (RefKind.HANDLE, RefKind.USERNAME):
        notes.append("the channels.list call that resolves the reference also fetches the channel")
    elif resolve:
        notes.append(f"resolving {ref.kind} costs {resolve} unit(s)")
    incremental = bool(known and known.crawl_complete and known.live_video_ids) and not full
    known_count = len(known.live_video_ids) if known else 0
    if incremental:
        new = max(0, listed - known_count)
        mode = WalkMode.INCREMENTAL
        walked = new // PAGE_SIZE + 1
        playlist = walked
        videos = pages(new + known_count)
        notes.append(
            f"about {new} new upload(s) above {known_count} known: re-run bound "
            f"{incremental_bound(new, new + known_count)} units"
        )
        notes.append(
            f"where the server has videos.batchGetStats, {stats_units(known_count)} of the videos.list "
            "units move to its own quota bucket"
        )
    else:
        mode = WalkMode.FULL
        playlist = pages(listed)
        videos = pages(listed)
        if known and not known.crawl_complete and known.live_video_ids:
            notes.append("an earlier crawl did not finish: walking the whole playlist again")
    shorts = pages(listed) + 1 if detect_shorts else 0
    if detect_shorts:
        notes.append("--detect-shorts walks the UUSH playlist: at most the units shown")
    comment_units = 0
    if comments:
        comment_units = listed
        notes.append("comments: at least one commentThreads.list per video, more for long threads")
    return ChannelPlan(
        ref=ref.raw,
        channel_id=channel_id,
        mode=mode,
        expected_uploads=listed,
        known_videos=known_count,
        resolve_units=resolve,
        channel_units=1,
        playlist_units=playlist,
        videos_units=videos,
        shorts_units_max=shorts,
        comments_units_min=comment_units,
        notes=tuple(notes),
    )


@dataclass(frozen=True, slots=True)
class PageDecision:
    """What to do with one playlist page: which ids to fetch, and whether to stop walking."""

    fetch_ids: tuple[str, ...]
    """Ids on the page to fetch with ``videos.list`` now, in playlist order, without duplicates."""
    known_seen: tuple[str, ...]
    """Known ids on the page left for the refresh phase (incremental mode only)."""
    stop: bool
    """True when the walk ends after this page."""
    deferred: tuple[str, ...] = ()
    """New ids on the page where an incremental walk stops: fetched with the refresh batches."""


def decide_page(
    mode: WalkMode,
    page_ids: Iterable[str],
    known_ids: frozenset[str],
    next_page_token: str | None,
    done_ids: AbstractSet[str] = frozenset(),
) -> PageDecision:
    """What to fetch from one playlist page and whether to walk on.

    ``done_ids`` are videos this crawl already fetched (a resumed crawl skips them). In full mode
    every other id on the page is fetched and the walk ends with the playlist. In incremental mode
    only unknown ids are fetched: the walk stops at the first page that holds a known video,
    because the uploads playlist is newest first and everything below it is known already; known
    ones are refreshed afterwards in full batches of 50.
    """
    fetch: list[str] = []
    known_seen: list[str] = []
    reached_known = False
    for video_id in page_ids:
        is_known = video_id in known_ids
        reached_known = reached_known or is_known
        if video_id in done_ids or video_id in fetch or video_id in known_seen:
            continue
        if is_known and mode is WalkMode.INCREMENTAL:
            known_seen.append(video_id)
        else:
            fetch.append(video_id)
    stop = next_page_token is None or (mode is WalkMode.INCREMENTAL and reached_known)
    if mode is WalkMode.INCREMENTAL and reached_known:
        # The partial page of new videos fills the refresh's batches instead of a call of its own.
        return PageDecision((), tuple(known_seen), stop, tuple(fetch))
    return PageDecision(tuple(fetch), tuple(known_seen), stop)


def refresh_batches(
    known_ids: Iterable[str],
    done_ids: frozenset[str],
    size: int = PAGE_SIZE,
    *,
    deferred: Sequence[str] = (),
) -> list[list[str]]:
    """``deferred`` new ids, then known, live ids not fetched yet by this crawl, in stable order,
    in full ``videos.list`` batches."""
    first = [i for i in dict.fromkeys(deferred) if i not in done_ids]
    remaining = sorted(set(known_ids) - done_ids - set(first))
    return list(chunked([*first, *remaining], size))
