"""One scheduler tick against the API: the due channels' daily refresh and the dense pass.

A tick spends exactly what :func:`tubescope.watch.plan.tick_units` counts:

- ``channels.list`` for the due channels, 50 a call (subscriber and view counts);
- the first page of each due channel's uploads playlist (walking on while a page is all new);
- ``videos.list`` for the new videos found, 50 ids a call across channels;
- one ``videos.batchGetStats`` pass, 50 ids a call, over the due channels' known videos and the
  young videos whose sampling age fell in the hour before the tick's whole hour (the dense
  pass). A young video refreshed by both is fetched once; its sample is both its daily
  snapshot and its early point.

A push (WebSub) fetches only the pushed videos that are not stored yet. Every tick is one
collection run (source ``watch``): snapshots keep their lineage like any other run's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from tubescope.domain.models import Video, VideoSnapshot
from tubescope.errors import ResourceUnavailable, TubescopeError
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.watches import (
    EarlyPoint,
    live_video_ids,
    record_early_points,
    stored_video_ids,
    uploads_playlists,
)
from tubescope.watch.plan import IDS_PER_CALL, DenseSampling, tick_units
from tubescope.watch.schedule import dense_due
from tubescope.youtube.client import (
    CHANNEL_PARTS,
    PLAYLIST_ITEM_PARTS,
    STATS_PARTS,
    VIDEO_PARTS,
    YouTubeClient,
)
from tubescope.youtube.items import (
    Accepted,
    playlist_video_id,
    validate_channel,
    validate_video,
    validate_video_stat,
)
from tubescope.youtube.quota import Method

_log = structlog.get_logger("tubescope.watch")
SOURCE = "watch"
TOMBSTONE_REASON = "not returned by videos.batchGetStats: deleted or made private"


@dataclass
class SweepResult:
    """What one tick (or push) fetched and stored, and the units it was planned to cost."""

    run_id: int | None
    channels: list[str]
    new_videos: int = 0
    snapshots: int = 0
    dense_samples: int = 0
    tombstoned: int = 0
    planned_units: dict[str, int] = field(default_factory=dict)
    touched: list[str] = field(default_factory=list)
    """Every channel the run stored something for (refreshed, pushed or densely sampled): the
    channels whose alert rules are evaluated after it."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (the job's result)."""
        return {
            "run_id": self.run_id,
            "channels": self.channels,
            "new_videos": self.new_videos,
            "snapshots": self.snapshots,
            "dense_samples": self.dense_samples,
            "tombstoned": self.tombstoned,
            "planned_units": self.planned_units,
        }


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i : i + IDS_PER_CALL]) for i in range(0, len(ids), IDS_PER_CALL)]


def _items(body: Any) -> list[Any]:
    items = body.get("items") if isinstance(body, dict) else None
    return list(items) if isinstance(items, list) else []


async def _new_on_uploads(
    client: YouTubeClient, playlist_id: str, stored: Callable[[Sequence[str]], set[str]]
) -> tuple[list[str], int]:
    """The channel's videos not stored yet (newest first) and the pages read for them."""
    fresh: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {"part": ",".join(PLAYLIST_ITEM_PARTS), "playlistId": playlist_id, "maxResults": "50"}
        if token:
            params["pageToken"] = token
        body = await client.get_json(Method.PLAYLIST_ITEMS_LIST, "/playlistItems", params)
        pages += 1
        listed = [v for v in (playlist_video_id(i) for i in _items(body)) if v]
        known = stored(listed)
        fresh += [v for v in listed if v not in known]
        token = body.get("nextPageToken") if isinstance(body, dict) else None
        if known or not token or len(listed) < IDS_PER_CALL:
            return fresh, pages


@dataclass
class _Batch:
    videos: list[Video] = field(default_factory=list)
    snapshots: list[VideoSnapshot] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


async def _fetch_new(
    client: YouTubeClient, owner: dict[str, str], observed: Callable[[], datetime]
) -> _Batch:
    """``videos.list`` of the new ids (``id -> channel``), 50 a call."""
    out = _Batch()
    chunks = _chunks(list(owner))
    bodies = await asyncio.gather(
        *(
            client.get_json(Method.VIDEOS_LIST, "/videos", {"part": ",".join(VIDEO_PARTS), "id": ",".join(c)})
            for c in chunks
        )
    )
    at = observed()
    returned: set[str] = set()
    for body in bodies:
        for item in _items(body):
            item_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(item_id, str) or item_id not in owner:
                continue
            checked = validate_video(item, channel_id=owner[item_id], observed_at=at)
            if isinstance(checked, Accepted):
                returned.add(item_id)
                out.videos.append(checked.record.video)
                out.snapshots.append(checked.record.snapshot)
    out.missing = [v for v in owner if v not in returned]
    return out


async def _fetch_stats(client: YouTubeClient, ids: Sequence[str], observed: Callable[[], datetime]) -> _Batch:
    """``videos.batchGetStats`` of known ids, 50 a call (``videos.list`` where the server lacks it)."""
    out = _Batch()

    async def one(chunk: list[str]) -> list[Any]:
        body = await client.batch_get_stats_json(chunk)
        if body is None:
            params = {"part": ",".join(STATS_PARTS), "id": ",".join(chunk)}
            body = await client.get_json(Method.VIDEOS_LIST, "/videos", params)
        return _items(body)

    answers = await asyncio.gather(*(one(c) for c in _chunks(ids)))
    at = observed()
    wanted = set(ids)
    returned: set[str] = set()
    for items in answers:
        for item in items:
            checked = validate_video_stat(item, observed_at=at)
            accepted = isinstance(checked, Accepted) and checked.record.video_id in wanted
            if accepted and checked.record.video_id not in returned:  # type: ignore[union-attr]
                returned.add(checked.record.video_id)  # type: ignore[union-attr]
                out.snapshots.append(checked.record)  # type: ignore[union-attr]
    out.missing = [v for v in ids if v not in returned]
    return out


async def _refresh_channels(
    client: YouTubeClient, warehouse: Warehouse, run_id: int, channel_ids: Sequence[str], at: datetime
) -> None:
    bodies = await asyncio.gather(
        *(
            client.get_json(
                Method.CHANNELS_LIST,
                "/channels",
                {"part": ",".join(CHANNEL_PARTS), "id": ",".join(c), "maxResults": "50"},
            )
            for c in _chunks(list(channel_ids))
        )
    )
    channels, snapshots = [], []
    for body in bodies:
        for item in _items(body):
            checked = validate_channel(item, observed_at=at)
            if isinstance(checked, Accepted):
                channels.append(checked.record.channel)
                snapshots.append(checked.record.snapshot)
    warehouse.upsert_channels(run_id, channels, fetched_at=at)
    warehouse.record_channel_snapshots(run_id, snapshots, fetched_at=at)


async def sweep(
    client: YouTubeClient,
    warehouse: Warehouse,
    *,
    now: datetime,
    channel_ids: Sequence[str] = (),
    pushed: dict[str, str] | None = None,
    dense: DenseSampling | None = None,
    observed: Callable[[], datetime] | None = None,
) -> SweepResult:
    """Run one tick at ``now``: refresh ``channel_ids`` (their channel tick was claimed), fetch
    ``pushed`` new videos (``video_id -> channel_id``), and with ``dense`` run the dense pass of
    ``now``'s whole hour. ``observed`` dates the snapshots (default: the API's own clock)."""
    stamp = observed or client.server_now
    due = sorted(set(channel_ids))
    pushed = dict(pushed or {})
    # What to fetch, decided before any call (so the planned units are known up front).
    playlists = uploads_playlists(warehouse, due)
    known = live_video_ids(warehouse, due)
    owner = {v: c for v, c in pushed.items() if v not in stored_video_ids(warehouse, list(pushed))}
    pages = 0
    try:
        for channel_id in due:
            playlist = playlists.get(channel_id)
            if playlist is None:
                continue
            try:
                fresh, walked = await _new_on_uploads(
                    client, playlist, lambda ids: stored_video_ids(warehouse, list(ids))
                )
            except ResourceUnavailable:
                pages += 1
                continue
            pages += walked
            owner.update(dict.fromkeys(fresh, channel_id))
    except TubescopeError as exc:
        # Failed before the run began: still logged as a failed run, so the collection_failed
        # rule (and anyone reading the runs) hears of it. Dated at the tick: the API may never
        # have answered, so its clock is unknown.
        run_id = warehouse.start_run(SOURCE, due, client.key_fingerprints, started_at=now)
        warehouse.finish_run(run_id, "failed", str(exc), quota_spent=client.quota_by_key(), finished_at=now)
        raise
    daily = {v: c for c, ids in known.items() for v in ids}
    young = [
        (video.video_id, video.channel_id, video.published_at, slot)
        for video, slot in (dense_due(warehouse, now, dense) if dense is not None else [])
    ]
    stats_owner = {**daily, **{v: c for v, c, _, _ in young}}
    stats_ids = sorted(v for v in stats_owner if v not in owner)
    planned = tick_units(channels=len(due), pages=pages, new_ids=len(owner), stats_ids=len(stats_ids))
    if not due and not owner and not stats_ids:
        return SweepResult(None, [], planned_units=planned)
    refs = sorted({*due, *owner.values(), *stats_owner.values()})
    run_id = warehouse.start_run(SOURCE, refs, client.key_fingerprints, started_at=stamp())
    result = SweepResult(run_id, due, planned_units=planned, touched=refs)
    try:
        if due:
            await _refresh_channels(client, warehouse, run_id, due, stamp())
        new = await _fetch_new(client, owner, stamp) if owner else _Batch()
        stats = await _fetch_stats(client, stats_ids, stamp) if stats_ids else _Batch()
        if new.videos:
            warehouse.upsert_videos(run_id, new.videos)
        snapshots = new.snapshots + stats.snapshots
        warehouse.record_video_snapshots(run_id, snapshots, stored_video_ids=[v.video_id for v in new.videos])
        if stats.missing:
            warehouse.mark_deleted(run_id, stats.missing, stamp(), TOMBSTONE_REASON)
        by_id = {s.video_id: s for s in snapshots}
        points = [
            EarlyPoint(
                video_id,
                channel_id,
                slot,
                by_id[video_id].observed_at,
                (by_id[video_id].observed_at - published_at) / timedelta(hours=1),
                by_id[video_id].view_count,
                by_id[video_id].like_count,
                by_id[video_id].comment_count,
            )
            for video_id, channel_id, published_at, slot in young
            if video_id in by_id
        ]
        result.dense_samples = record_early_points(warehouse, run_id, points)
        result.new_videos = len(new.videos)
        result.snapshots = len(snapshots)
        result.tombstoned = len(stats.missing)
    except TubescopeError as exc:
        warehouse.finish_run(
            run_id, "failed", str(exc), quota_spent=client.quota_by_key(), finished_at=stamp()
        )
        raise
    warehouse.finish_run(
        run_id,
        "completed",
        counters={
            "new_videos": result.new_videos,
            "snapshots": result.snapshots,
            "dense_samples": result.dense_samples,
        },
        quota_spent=client.quota_by_key(),
        finished_at=stamp(),
    )
    _log.info("watch.sweep", **{k: v for k, v in result.as_dict().items() if k != "channels"})
    return result
