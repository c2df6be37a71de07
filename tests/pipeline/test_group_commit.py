"""Group commit of the collector's batches, into a real DuckDB warehouse.

While requests are in flight, batches that arrive within the linger share one transaction (its
fixed cost is most of a write's CPU); with nothing in flight a batch commits at once, so the end
of a crawl never waits. No batch is acknowledged before its transaction commits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tubescope.domain.models import Channel, ChannelSnapshot, Video, VideoFormat, VideoSnapshot
from tubescope.pipeline.adapters import WarehouseStore
from tubescope.pipeline.collect import _Grouped, _GroupWriter, _StoreWorker, _Tally
from tubescope.pipeline.ports import (
    BatchCounts,
    ChannelBegin,
    ChannelFinish,
    ChannelStart,
    PendingWrite,
    VideoBatch,
)
from tubescope.warehouse.repository import Warehouse

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CHANNEL = "UC" + "a" * 22


class CountingStore(WarehouseStore):
    """The real store, counting its write transactions and what each held."""

    def __init__(self, warehouse: Warehouse) -> None:
        super().__init__(warehouse)
        self.groups: list[int] = []

    def write_batches(
        self, run_id: int, writes: Sequence[PendingWrite], *, fetched_at: datetime
    ) -> BatchCounts:
        counts = super().write_batches(run_id, writes, fetched_at=fetched_at)
        self.groups.append(len(writes))
        return counts


def _batch(number: int, channel_id: str = CHANNEL) -> PendingWrite:
    batch = VideoBatch(channel_id)
    for i in range(3):
        video_id = f"v{number:05d}{i:05d}"
        batch.videos.append(
            Video(video_id, channel_id, "t", "d", NOW - timedelta(days=number), 60, "PT1M", VideoFormat.LONG)
        )
        batch.snapshots.append(VideoSnapshot(video_id, NOW, 10 + i, 1, 0))
    return PendingWrite(batch, f"token{number}", number, True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[CountingStore, int]]:
    with Warehouse.open(tmp_path / "w.duckdb", clock=lambda: NOW) as warehouse:
        counting = CountingStore(warehouse)
        run = counting.open_run(
            source="youtube_api", refs=[CHANNEL], key_fingerprints=["key-0123456789"], started_at=NOW
        )
        channel = Channel(CHANNEL, "c", None, "", NOW, None, None, "UU" + CHANNEL[2:], 1, False, 1, 9)
        counting.begin_channel(run.run_id, channel, ChannelSnapshot(CHANNEL, NOW, 1, 1, 9), fetched_at=NOW)
        yield counting, run.run_id


def _stored(store: WarehouseStore) -> int:
    row = store.warehouse.fetchone("SELECT count(*) FROM video_snapshots")
    return int(row[0]) if row else 0


async def _writer_run(
    store: CountingStore, run_id: int, *, busy: bool, batches: int, linger: float
) -> tuple[float, list[int]]:
    worker = _StoreWorker()
    try:
        writer = _GroupWriter(
            worker, store, _Tally(), lambda: NOW, busy=lambda: busy, linger_seconds=linger, target_batches=32
        )
        writer.run_id = run_id
        started = time.monotonic()
        acknowledged: list[int] = []

        async def one(number: int) -> None:
            await writer.write(_batch(number))
            # Acknowledged only once committed: what it wrote is there.
            acknowledged.append(await worker.call(_stored, store))

        async with asyncio.TaskGroup() as group:
            for number in range(1, batches + 1):
                group.create_task(one(number))
                await asyncio.sleep(0.01)
        await writer.flush()
        return time.monotonic() - started, acknowledged
    finally:
        worker.close()


def test_batches_arriving_while_requests_are_in_flight_share_one_transaction(
    store: tuple[CountingStore, int],
) -> None:
    counting, run_id = store
    seconds, acknowledged = asyncio.run(_writer_run(counting, run_id, busy=True, batches=5, linger=1.0))
    assert counting.groups == [5]
    assert acknowledged == [15] * 5
    assert seconds >= 1.0  # it waited for more batches, up to the linger


def test_with_nothing_in_flight_a_batch_commits_without_lingering(store: tuple[CountingStore, int]) -> None:
    counting, run_id = store
    seconds, acknowledged = asyncio.run(_writer_run(counting, run_id, busy=False, batches=3, linger=30.0))
    assert seconds < 15.0  # far below the 30 s linger: nothing waited for company
    assert sum(counting.groups) == 3
    assert sorted(acknowledged)[-1] == 9


class BeginCountingStore(WarehouseStore):
    """The real store, recording how many channels each start transaction held."""

    def __init__(self, warehouse: Warehouse) -> None:
        super().__init__(warehouse)
        self.groups: list[int] = []

    def begin_channels(self, run_id: int, starts: Sequence[ChannelBegin]) -> list[ChannelStart]:
        self.groups.append(len(starts))
        return super().begin_channels(run_id, starts)


def _channel(number: int) -> ChannelBegin:
    channel_id = f"UC{number:022d}"
    channel = Channel(
        channel_id, f"c{number}", None, "", NOW, None, None, "UU" + channel_id[2:], 1, False, 1, 9
    )
    # Two fetch times among the channels: each keeps its own.
    return ChannelBegin(
        channel, ChannelSnapshot(channel_id, NOW, number, 1, 9), NOW + timedelta(seconds=number % 2)
    )


def test_channels_looked_up_together_start_in_shared_transactions(tmp_path: Path) -> None:
    with Warehouse.open(tmp_path / "w.duckdb", clock=lambda: NOW) as warehouse:
        counting = BeginCountingStore(warehouse)
        run = counting.open_run(
            source="youtube_api", refs=["x"], key_fingerprints=["key-0123456789"], started_at=NOW
        )
        # An earlier walk of channel 3 in this run: its start must come back with its own checkpoint.
        counting.begin_channels(run.run_id, [_channel(3)])
        warehouse.record_checkpoint(run.run_id, _channel(3).channel.channel_id, page_token="p7", pages_done=7)
        counting.groups.clear()

        async def start_all() -> list[ChannelStart]:
            worker = _StoreWorker()
            try:
                starter = _Grouped[ChannelBegin, ChannelStart](worker, counting.begin_channels)
                starter.run_id = run.run_id
                return await asyncio.gather(*(starter.submit(_channel(n)) for n in range(1, 9)))
            finally:
                worker.close()

        starts = asyncio.run(start_all())
        assert sum(counting.groups) == 8
        assert len(counting.groups) < 8  # the ones that arrived while a start was stored went together
        assert [s.checkpoint.pages_done for s in starts] == [0, 0, 7, 0, 0, 0, 0, 0]
        assert starts[2].checkpoint.page_token == "p7"
        stored = warehouse.fetchall(
            "SELECT c.channel_id, c.fetched_at, s.subscriber_count FROM channels c"
            " JOIN channel_snapshots s USING (channel_id) ORDER BY c.channel_id"
        )
        assert [(r[0], r[1], r[2]) for r in stored] == [
            (b.channel.channel_id, b.fetched_at, b.snapshot.subscriber_count)
            for b in map(_channel, range(1, 9))
        ]


def _finished_state(tmp_path: Path, name: str, *, together: bool) -> list[tuple[object, ...]]:
    """Three channels with a page of videos each, finished in one group or one by one."""
    with Warehouse.open(tmp_path / f"{name}.duckdb", clock=lambda: NOW) as warehouse:
        store = WarehouseStore(warehouse)
        run = store.open_run(
            source="youtube_api", refs=["x"], key_fingerprints=["key-0123456789"], started_at=NOW
        )
        begins = [_channel(n) for n in (1, 2, 3)]
        store.begin_channels(run.run_id, begins)
        writes = [_batch(n, b.channel.channel_id) for n, b in enumerate(begins, start=1)]
        store.write_batches(run.run_id, writes, fetched_at=NOW)
        finishes = [
            ChannelFinish(b.channel.channel_id, full_walk=n != 2, at=NOW) for n, b in enumerate(begins, 1)
        ]
        if together:
            counts = store.finish_channels(run.run_id, finishes)
        else:
            counts = [
                store.finish_channel(run.run_id, f.channel_id, full_walk=f.full_walk, at=f.at)
                for f in finishes
            ]
        assert counts == [3, 3, 3]
        state = warehouse.fetchall(
            "SELECT channel_id, newest_video_id, newest_published_at, last_full_crawl_at, last_run_id"
            " FROM channel_state ORDER BY channel_id"
        )
        checkpoints = warehouse.fetchall(
            "SELECT channel_id, page_token, pages_done, channel_done FROM collection_checkpoints"
            " ORDER BY channel_id"
        )
        return [tuple(r) for r in state] + [tuple(r) for r in checkpoints]


def test_channels_finished_together_store_what_finishing_one_by_one_stores(tmp_path: Path) -> None:
    together = _finished_state(tmp_path, "together", together=True)
    assert together == _finished_state(tmp_path, "one_by_one", together=False)
    state, checkpoints = together[:3], together[3:]
    assert [r[1] for r in state] == ["v0000100000", "v0000200000", "v0000300000"]
    assert [r[3] for r in state] == [NOW, None, NOW]  # channel 2's walk was not a full one
    assert [(r[1], r[3]) for r in checkpoints] == [(None, True)] * 3  # every walk marked done
