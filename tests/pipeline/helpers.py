"""Shared helpers: collect from a loopback emulator into a real DuckDB file and read it back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tubescope.domain.refs import parse_channel_ref
from tubescope.errors import TubescopeError
from tubescope.pipeline.adapters import WarehouseStore, YouTubeApi
from tubescope.pipeline.collect import run_collection
from tubescope.pipeline.progress import CollectProgress, SilentProgress
from tubescope.pipeline.run import CollectOptions, CollectSummary
from tubescope.testing import EmulatorHandle
from tubescope.warehouse.repository import Warehouse
from tubescope.youtube.client import ClientOptions, YouTubeClient

FAST = ClientOptions(
    requests_per_second=2000,
    max_concurrency=8,
    max_retries=6,
    backoff_base_seconds=0.001,
    backoff_max_seconds=0.005,
    breaker_threshold=1000,
)

# While a collecting process is being killed, every emulator answer takes this long, so its job
# cannot finish between a poll seeing it mid-run and the signal landing. (A group commit may hold
# a second of batches: at a test's few requests a second, most of a crawl can be fetched before
# its first 50 videos show as stored.)
HOLD_LATENCY_MS = 2_000


def collect(
    emu: EmulatorHandle,
    db: Path,
    refs: Sequence[str],
    *,
    options: CollectOptions | None = None,
    keys: Sequence[str] | None = None,
    client_options: ClientOptions = FAST,
    transport: httpx.AsyncBaseTransport | None = None,
    progress: CollectProgress | None = None,
) -> CollectSummary:
    async def go() -> CollectSummary:
        with Warehouse.open(db, clock=emu.clock) as warehouse:
            async with YouTubeClient(
                emu.base_url, list(keys or emu.keys[:1]), client_options, transport=transport
            ) as client:
                return await run_collection(
                    [parse_channel_ref(r) for r in refs],
                    options or CollectOptions(),
                    api=YouTubeApi(client),
                    store=WarehouseStore(warehouse),
                    clock=emu.clock,
                    progress=progress,
                )

    return asyncio.run(go())


def rows(db: Path | str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` in the warehouse at ``db`` (a DuckDB file or a postgresql:// URL)."""
    with Warehouse.open(db, read_only=True) as warehouse:
        return [tuple(r) for r in warehouse.fetchall(sql, list(params))]


def stored_data(db: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a user would read back, without lineage columns that differ between runs."""
    return {
        "videos": rows(
            db,
            "SELECT video_id, channel_id, title, published_at, duration_seconds, video_format, tags,"
            " is_deleted FROM videos ORDER BY video_id",
        ),
        "video_snapshots": rows(
            db,
            "SELECT video_id, observed_at, view_count, like_count, comment_count FROM video_snapshots"
            " ORDER BY video_id, observed_at",
        ),
        "channels": rows(db, "SELECT channel_id, title, video_count, view_count FROM channels ORDER BY 1"),
        "channel_snapshots": rows(
            db, "SELECT channel_id, observed_at, view_count FROM channel_snapshots ORDER BY 1, 2"
        ),
    }


def ledger_units(emu: EmulatorHandle, key: str | None = None) -> int:
    return emu.ledger.total_units(key or emu.keys[0])


def ledger_calls(emu: EmulatorHandle, key: str | None = None) -> dict[str, int]:
    return {method: usage.calls for method, usage in emu.ledger.usage(key or emu.keys[0]).items()}


def hold_after_videos_listed(emu: EmulatorHandle, calls: int, *, timeout: float = 60) -> None:
    """Wait until the emulator has answered ``calls`` ``videos.list`` requests, then slow every
    answer to ``HOLD_LATENCY_MS``: a single collection is then surely mid-run, with batches on their
    way to its first group commit, for as long as a test needs to kill it."""
    deadline = time.monotonic() + timeout
    while ledger_calls(emu).get("videos.list", 0) < calls:
        assert time.monotonic() < deadline, f"fewer than {calls} videos.list calls in {timeout} s"
        time.sleep(0.01)
    emu.set_faults(latency_ms=HOLD_LATENCY_MS)


class CancelAfterPages(SilentProgress):
    """A progress hook that cancels the run (as a service job does) after some playlist pages."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def page_walked(self, channel_id: str) -> None:
        self.pages -= 1
        if self.pages == 0:
            raise TubescopeError("cancelled by the caller")
