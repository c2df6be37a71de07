"""The two real implementations behind :mod:`tubescope.pipeline.ports`.

:class:`YouTubeApi` drives :class:`~tubescope.youtube.client.YouTubeClient` but keeps each item as
the JSON object the API sent, because validation (and the quarantine's raw payload) needs the item
as it arrived, not a model that failed to build. It goes through the client's one request path, so
quota, budget, key rotation, retries and the breaker behave exactly as for the typed calls.

:class:`WarehouseStore` maps the collector's writes onto
:class:`~tubescope.warehouse.repository.Warehouse`, one transaction per batch (data, tombstones,
quarantine and checkpoint together).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tubescope.domain.models import Channel, ChannelSnapshot, Comment
from tubescope.domain.refs import ChannelRef, RefKind
from tubescope.pipeline.kpi_aggregates import refresh_channel_kpis
from tubescope.pipeline.ports import (
    BatchCounts,
    ChannelBegin,
    ChannelFinish,
    ChannelStart,
    Checkpoint,
    Page,
    PendingWrite,
    RunRecord,
)
from tubescope.pipeline.validate import Rejected
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.state import Checkpoint as StoredCheckpoint
from tubescope.youtube.client import (
    CHANNEL_PARTS,
    COMMENT_THREAD_PARTS,
    PLAYLIST_ITEM_PARTS,
    VIDEO_PARTS,
    YouTubeClient,
)
from tubescope.youtube.quota import PAGE_SIZE, Method

COMMENTS_CHECKPOINT_PREFIX = "comments:"
"""Comment progress is checkpointed under a pseudo channel id, apart from the video walk."""


class YouTubeApi:
    """:class:`~tubescope.pipeline.ports.CollectApi` over the real client, raw items out."""

    def __init__(self, client: YouTubeClient) -> None:
        self.client = client

    @property
    def key_fingerprints(self) -> Sequence[str]:
        """Fingerprints of the API keys in use (never the keys)."""
        return self.client.key_fingerprints

    @property
    def quota_spent(self) -> int:
        """Quota units spent so far."""
        return self.client.quota_spent

    def quota_by_key(self) -> Mapping[str, int]:
        """Quota units spent so far, per key fingerprint."""
        return self.client.quota_by_key()

    async def _raw(self, method: Method, path: str, params: dict[str, str]) -> dict[str, Any]:
        # The client's single request path; the typed wrappers would turn a bad item into a
        # validation error for the whole page instead of one quarantined item.
        return await self.client.get_json(method, path, params)

    async def lookup_channel(self, ref: ChannelRef, *, allow_search: bool) -> Any | None:
        """The channel resource for ``ref``, or None when the API knows no such channel."""
        parts = ",".join(CHANNEL_PARTS)
        if ref.kind is RefKind.HANDLE:
            params = {"part": parts, "forHandle": ref.value}
        elif ref.kind is RefKind.USERNAME:
            params = {"part": parts, "forUsername": ref.value}
        else:
            channel_id = await self.client.resolve_channel_id(ref, allow_search=allow_search)
            params = {"part": parts, "id": channel_id}
        body = await self._raw(Method.CHANNELS_LIST, "/channels", params)
        items = _items(body)
        if ref.kind in (RefKind.HANDLE, RefKind.USERNAME):
            return items[0] if items else None
        wanted = params["id"]
        return next((i for i in items if isinstance(i, dict) and i.get("id") == wanted), None)

    async def playlist_page(self, playlist_id: str, page_token: str | None) -> Page:
        """One page of a playlist's items."""
        params = {
            "part": ",".join(PLAYLIST_ITEM_PARTS),
            "playlistId": playlist_id,
            "maxResults": str(PAGE_SIZE),
        }
        if page_token:
            params["pageToken"] = page_token
        body = await self._raw(Method.PLAYLIST_ITEMS_LIST, "/playlistItems", params)
        return Page(_items(body), _token(body))

    async def videos(self, video_ids: Sequence[str]) -> Sequence[Any]:
        """The video resources of ``video_ids``."""
        params = {"part": ",".join(VIDEO_PARTS), "id": ",".join(video_ids), "maxResults": str(PAGE_SIZE)}
        return _items(await self._raw(Method.VIDEOS_LIST, "/videos", params))

    async def video_stats(self, video_ids: Sequence[str]) -> Sequence[Any] | None:
        """Statistics of ``video_ids`` from ``videos.batchGetStats``, or None when the API lacks it."""
        body = await self.client.batch_get_stats_json(video_ids)
        return None if body is None else _items(body)

    async def comment_threads(self, video_id: str, page_token: str | None, max_results: int) -> Page:
        """One page of a video's comment threads."""
        params = {
            "part": ",".join(COMMENT_THREAD_PARTS),
            "videoId": video_id,
            "maxResults": str(max(1, min(100, max_results))),
            "order": "time",
            "textFormat": "plainText",
        }
        if page_token:
            params["pageToken"] = page_token
        body = await self._raw(Method.COMMENT_THREADS_LIST, "/commentThreads", params)
        return Page(_items(body), _token(body))

    async def comment_replies(self, parent_id: str, page_token: str | None) -> Page:
        """One page of replies to the comment ``parent_id``."""
        params = {"part": "snippet", "parentId": parent_id, "maxResults": "100", "textFormat": "plainText"}
        if page_token:
            params["pageToken"] = page_token
        body = await self._raw(Method.COMMENTS_LIST, "/comments", params)
        return Page(_items(body), _token(body))


def _checkpoint(walk: StoredCheckpoint | None, comments: StoredCheckpoint | None) -> Checkpoint:
    """A channel's walk and comments checkpoints as stored, as the pipeline reads them."""
    comments_done = comments.done_video_ids if comments else frozenset()
    if walk is None:
        return Checkpoint(comments_done_video_ids=comments_done)
    return Checkpoint(
        page_token=walk.page_token,
        pages_done=walk.pages_done,
        channel_done=walk.channel_done,
        done_video_ids=walk.done_video_ids,
        comments_done_video_ids=comments_done,
    )


def _items(body: Mapping[str, Any]) -> list[Any]:
    items = body.get("items")
    return list(items) if isinstance(items, list) else []


def _token(body: Mapping[str, Any]) -> str | None:
    token = body.get("nextPageToken")
    return token if isinstance(token, str) and token else None


class WarehouseStore:
    """:class:`~tubescope.pipeline.ports.CollectStore` over the DuckDB warehouse."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def open_run(
        self, *, source: str, refs: Sequence[str], key_fingerprints: Sequence[str], started_at: datetime
    ) -> RunRecord:
        """Open a collection run, or resume an interrupted one for the same refs."""
        earlier = self.warehouse.find_resumable_run(source, refs)
        if earlier is not None:
            self.warehouse.resume_run(earlier.run_id, key_fingerprints=key_fingerprints)
            return RunRecord(earlier.run_id, resumed=True)
        run_id = self.warehouse.start_run(source, refs, key_fingerprints, started_at=started_at)
        return RunRecord(run_id, resumed=False)

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
        """Record how a collection run ended, with the fleet KPIs of the channels it touched."""
        # The run lands with the fleet KPIs of the channels it touched, in one transaction.
        with self.warehouse.transaction():
            self.warehouse.finish_run(
                run_id, status, error, counters, quota_spent=quota_by_key, finished_at=finished_at
            )
            refresh_channel_kpis(self.warehouse, at=finished_at)

    def _scalar(self, sql: str, params: Sequence[Any]) -> Any:
        row = self.warehouse.fetchone(sql, list(params))
        return row[0] if row else None

    def known_channel_id(self, ref: ChannelRef) -> str | None:
        """The channel id the warehouse already holds for ``ref``, or None."""
        if ref.kind is RefKind.CHANNEL_ID:
            found = self._scalar("SELECT channel_id FROM channels WHERE channel_id = ?", [ref.value])
        elif ref.kind is RefKind.HANDLE:
            found = self._scalar(
                "SELECT channel_id FROM channels WHERE lower(handle) = lower(?) LIMIT 1", [ref.value]
            )
        elif ref.kind is RefKind.VIDEO:
            found = self._scalar("SELECT channel_id FROM videos WHERE video_id = ?", [ref.value])
        else:
            found = None
        return str(found) if found is not None else None

    def stored_video_count(self, channel_id: str) -> int | None:
        """The channel's video count as last stored, or None when unknown."""
        found = self._scalar("SELECT video_count FROM channels WHERE channel_id = ?", [channel_id])
        return int(found) if found is not None else None

    def known_video_ids(self, channel_id: str, *, before_run: int | None) -> frozenset[str]:
        """Ids of the channel's live videos stored before run ``before_run`` (all runs when None)."""
        sql = "SELECT video_id FROM videos WHERE channel_id = ? AND NOT is_deleted"
        params: list[Any] = [channel_id]
        if before_run is not None:
            sql += " AND first_seen_run_id <> ?"
            params.append(before_run)
        rows = self.warehouse.fetchall(sql, params)
        return frozenset(str(r[0]) for r in rows)

    def crawl_complete(self, channel_id: str) -> bool:
        """Whether the channel's uploads have been walked to the end once."""
        state = self.warehouse.incremental_state(channel_id)
        return state is not None and state.last_full_crawl_at is not None

    def checkpoint(self, run_id: int, channel_id: str) -> Checkpoint:
        """Where run ``run_id`` left the walk of ``channel_id``."""
        walk = self.warehouse.load_checkpoint(run_id, channel_id)
        comments = self.warehouse.load_checkpoint(run_id, COMMENTS_CHECKPOINT_PREFIX + channel_id)
        return _checkpoint(walk, comments)

    def begin_channel(
        self, run_id: int, channel: Channel, snapshot: ChannelSnapshot, *, fetched_at: datetime
    ) -> ChannelStart:
        """Store the channel and its snapshot at the start of its crawl, in one transaction."""
        return self.begin_channels(run_id, [ChannelBegin(channel, snapshot, fetched_at)])[0]

    def begin_channels(self, run_id: int, starts: Sequence[ChannelBegin]) -> list[ChannelStart]:
        """Store several channels and their snapshots in one transaction, then read where each
        one's crawl starts; results in the order of ``starts``."""
        # One commit and one upsert for the group: each channel keeps the time its own lookup
        # was answered (with the API's clock those are rarely equal), row by row.
        fetched_at = [start.fetched_at for start in starts]
        with self.warehouse.transaction():
            self.warehouse.upsert_channels(run_id, [s.channel for s in starts], fetched_at=fetched_at)
            self.warehouse.record_channel_snapshots(
                run_id, [s.snapshot for s in starts], fetched_at=fetched_at
            )
        # Where each crawl starts, read for the whole group in three queries (not six a channel):
        # the group's channels wait for it before their first page is asked for.
        ids = list(dict.fromkeys(start.channel.channel_id for start in starts))
        checkpoints = self.warehouse.run_checkpoints(
            run_id, channel_ids=[*ids, *(COMMENTS_CHECKPOINT_PREFIX + i for i in ids)]
        )
        known: dict[str, set[str]] = {}
        marks = ", ".join("?" for _ in ids)
        for channel_id, video_id in self.warehouse.fetchall(
            f"SELECT channel_id, video_id FROM videos WHERE channel_id IN ({marks})"  # noqa: S608 -- marks
            " AND NOT is_deleted AND first_seen_run_id <> ?",
            [*ids, run_id],
        ):
            known.setdefault(str(channel_id), set()).add(str(video_id))
        crawled = {
            str(row[0])
            for row in self.warehouse.fetchall(
                f"SELECT channel_id FROM channel_state WHERE channel_id IN ({marks})"  # noqa: S608 -- marks
                " AND last_full_crawl_at IS NOT NULL",
                ids,
            )
        }
        return [
            ChannelStart(
                checkpoint=_checkpoint(
                    checkpoints.get(start.channel.channel_id),
                    checkpoints.get(COMMENTS_CHECKPOINT_PREFIX + start.channel.channel_id),
                ),
                known_ids=frozenset(known.get(start.channel.channel_id, ())),
                crawl_complete=start.channel.channel_id in crawled,
            )
            for start in starts
        ]

    def write_batches(
        self, run_id: int, writes: Sequence[PendingWrite], *, fetched_at: datetime
    ) -> BatchCounts:
        """Store batches of videos, snapshots and tombstones with the walk checkpoint, atomically."""
        w = self.warehouse
        videos = [v for item in writes for v in item.batch.videos]
        snapshots = [s for item in writes for s in item.batch.snapshots]
        tombstones = [t for item in writes for t in item.batch.tombstones]
        rejected = [r for item in writes for r in item.batch.rejected]
        checkpoints: dict[str, tuple[str | None, int] | None] = {}
        done: dict[str, list[str]] = {}
        for item in writes:
            channel_id = item.batch.channel_id
            done.setdefault(channel_id, []).extend(item.batch.done_ids)
            if item.advance_checkpoint:
                checkpoints[channel_id] = (item.page_token, item.pages_done)
            else:
                checkpoints.setdefault(channel_id, None)
        with w.transaction():
            upserted = w.upsert_videos(run_id, videos, fetched_at=fetched_at)
            stored = w.record_video_snapshots(
                run_id, snapshots, fetched_at=fetched_at, stored_video_ids={v.video_id for v in videos}
            )
            tombstoned = None
            if tombstones:
                gone = [t.video_id for t in tombstones]
                tombstoned = w.mark_deleted(run_id, gone, fetched_at, tombstones[0].reason)
            quarantined = self._quarantine(run_id, rejected)
            w.record_checkpoints(run_id, checkpoints, done)
        return BatchCounts(
            videos_new=upserted.inserted,
            videos_updated=upserted.updated,
            snapshots=stored.inserted,
            quarantined=quarantined + stored.quarantined + (tombstoned.quarantined if tombstoned else 0),
            tombstoned=tombstoned.updated if tombstoned else 0,
        )

    def _quarantine(self, run_id: int, rejected: Sequence[Rejected]) -> int:
        for item in rejected:
            self.warehouse.quarantine(run_id, item.kind, item.item_id, item.raw, item.reason)
        return len(rejected)

    def quarantine(self, run_id: int, rejected: Sequence[Rejected], *, at: datetime) -> int:
        """Quarantine records that failed validation; returns how many were stored."""
        with self.warehouse.transaction():
            return self._quarantine(run_id, rejected)

    def finish_channel(self, run_id: int, channel_id: str, *, full_walk: bool, at: datetime) -> int:
        """Mark the channel's crawl finished; returns the number of its live stored videos."""
        return self.finish_channels(run_id, [ChannelFinish(channel_id, full_walk, at)])[0]

    def finish_channels(self, run_id: int, finishes: Sequence[ChannelFinish]) -> list[int]:
        """Mark several channels' crawls finished in one transaction (a crawl's channels finish
        together, and each commit has a fixed cost); returns their live stored videos, in order."""
        w = self.warehouse
        ids = list(dict.fromkeys(finish.channel_id for finish in finishes))
        marks = ", ".join("?" for _ in ids)
        with w.transaction():
            # Each channel's newest live video, for the whole group in one query (the rank is
            # the per-channel query's ORDER BY ... LIMIT 1).
            ranked = (
                "SELECT channel_id, video_id, published_at, row_number() OVER ("  # noqa: S608 -- marks
                " PARTITION BY channel_id ORDER BY published_at DESC, video_id) AS newest_rank"
                f" FROM videos WHERE channel_id IN ({marks}) AND NOT is_deleted"
            )
            newest_of = {
                str(row[0]): (row[1], row[2])
                for row in w.fetchall(
                    f"SELECT channel_id, video_id, published_at FROM ({ranked}) AS ranked"  # noqa: S608
                    " WHERE newest_rank = 1",
                    ids,
                )
            }
            for finish in finishes:
                channel_id = finish.channel_id
                newest = newest_of.get(channel_id)
                # pages_done None keeps the count the walk stored; nothing is read back (a
                # channel's checkpoint holds every done video id: reading it took most of this).
                w.record_checkpoint(run_id, channel_id, page_token=None, pages_done=None, channel_done=True)
                w.update_incremental_state(
                    run_id,
                    channel_id,
                    newest_video_id=str(newest[0]) if newest else None,
                    newest_published_at=newest[1] if newest else None,
                    full_crawl=finish.full_walk,
                    at=finish.at,
                )
        live = {
            str(row[0]): int(row[1])
            for row in w.fetchall(
                f"SELECT channel_id, count(*) FROM videos WHERE channel_id IN ({marks})"  # noqa: S608 -- marks
                " AND NOT is_deleted GROUP BY channel_id",
                ids,
            )
        }
        return [live.get(finish.channel_id, 0) for finish in finishes]

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
        """Store a batch of comments and replies."""
        w = self.warehouse
        with w.transaction():
            result = w.add_comments(run_id, comments, fetched_at=fetched_at)
            self._quarantine(run_id, rejected)
            w.record_checkpoint(
                run_id, COMMENTS_CHECKPOINT_PREFIX + channel_id, page_token=None, done_video_ids=[video_id]
            )
        return result.inserted + result.updated

    def open_gaps(self, channel_id: str) -> list[str]:
        """Ids in ``videos_batch`` quarantine entries of this channel that are not stored yet.

        A gap closes by itself once its videos are stored; an id the API no longer returns
        (deleted meanwhile) stays listed and costs one unit per 50 ids a run to re-check.
        """
        rows = self.warehouse.fetchall(
            "SELECT CAST(payload AS VARCHAR) FROM quarantine WHERE entity = ?", ["videos_batch"]
        )
        wanted: dict[str, None] = {}
        for (text,) in rows:
            try:
                payload = text if isinstance(text, dict) else json.loads(text)
            except (TypeError, ValueError):
                continue
            if isinstance(payload, dict) and payload.get("channel_id") == channel_id:
                wanted.update(dict.fromkeys(str(i) for i in payload.get("video_ids") or ()))
        if not wanted:
            return []
        stored = {
            str(r[0])
            for r in self.warehouse.fetchall("SELECT video_id FROM videos WHERE channel_id = ?", [channel_id])
        }
        return [i for i in wanted if i not in stored]

    def count_live_videos(self, channel_id: str) -> int:
        """The number of the channel's stored videos that are not deleted."""
        found = self._scalar(
            "SELECT count(*) FROM videos WHERE channel_id = ? AND NOT is_deleted", [channel_id]
        )
        return int(found or 0)
