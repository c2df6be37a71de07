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
from tubescope.pipeline.collect import _GroupWriter, _StoreWorker, _Tally
from tubescope.pipeline.ports import BatchCounts, PendingWrite, VideoBatch
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


def _batch(number: int) -> PendingWrite:
    batch = VideoBatch(CHANNEL)
    for i in range(3):
        video_id = f"v{number:05d}{i:05d}"
        batch.videos.append(
            Video(video_id, CHANNEL, "t", "d", NOW - timedelta(days=number), 60, "PT1M", VideoFormat.LONG)
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
