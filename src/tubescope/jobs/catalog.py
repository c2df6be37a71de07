"""Read-side jobs the REST service and dashboard share: channels, videos, KPIs, analyses.

The service keeps one warehouse open for its whole life (:class:`WarehousePool`) and gives each
worker thread its own DuckDB cursor, because a DuckDB connection must not be used by two threads
at once and a second *read-only* connection to a file already open read-write in the same
process is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tubescope.analysis.abtest import AbTestResult, run_ab_test
from tubescope.analysis.benchmark import BenchmarkResult, benchmark_channel
from tubescope.analysis.query import parse_query
from tubescope.analysis.summary import ChannelAnalysis, analyze_channel, fleet_kpis_duckdb
from tubescope.errors import ChannelNotFound, ConfigError
from tubescope.jobs.common import load_channel_frames, resolve_stored_channel, share_warehouse, utc_now
from tubescope.warehouse.repository import Warehouse

VIDEO_SORT_KEYS = ("published_at", "view_count", "like_count", "comment_count", "duration_seconds", "title")


class WarehousePool:
    """One open warehouse, a fresh cursor-backed :class:`Warehouse` per use."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self._root = Warehouse.open(self.db_path)
        self._lock = threading.Lock()
        share_warehouse(self.db_path, self.borrow)

    @contextmanager
    def borrow(self) -> Iterator[Warehouse]:
        with self._lock:
            cursor = self._root.connection().cursor()
        warehouse = Warehouse(cursor, self.db_path, read_only=False, clock=utc_now)
        try:
            yield warehouse
        finally:
            warehouse.close()

    def ready(self) -> dict[str, Any]:
        """Readiness facts: the database answers and its schema is the one this program writes."""
        with self.borrow() as warehouse:
            version = warehouse.schema_version
            counts = warehouse.table_counts()
        return {"schema_version": version, "tables": counts}

    def close(self) -> None:
        share_warehouse(self.db_path, None)
        self._root.close()


def _clean(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    """JSON-safe rows of ``frame`` (hidden counts stay null, never 0)."""
    present = [c for c in columns if c in frame.columns]
    return [{c: _clean(row[c]) for c in present} for row in frame[present].to_dict("records")]


CHANNEL_FIELDS = (
    "channel_id",
    "title",
    "handle",
    "published_at",
    "subscriber_count",
    "hidden_subscriber_count",
    "view_count",
    "video_count",
    "country",
)
VIDEO_FIELDS = (
    "video_id",
    "title",
    "published_at",
    "duration_seconds",
    "video_format",
    "tags",
    "category_id",
    "view_count",
    "like_count",
    "comment_count",
    "is_deleted",
)


def list_channels(warehouse: Warehouse) -> list[dict[str, Any]]:
    frame = warehouse.load_frames(since=utc_now())["channels"]
    return records(frame.sort_values("title", key=lambda s: s.str.lower()), CHANNEL_FIELDS)


def channel_row(warehouse: Warehouse, ref: str) -> dict[str, Any]:
    channel_id = resolve_stored_channel(warehouse, ref)
    frame = warehouse.load_frames([channel_id], since=utc_now())["channels"]
    return records(frame, CHANNEL_FIELDS)[0]


def channel_kpis(warehouse: Warehouse, ref: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The fleet KPI row of one channel (derived metrics, computed in DuckDB)."""
    channel_id = resolve_stored_channel(warehouse, ref)
    frame = fleet_kpis_duckdb(warehouse.connection(), now or utc_now(), channel_id=channel_id)
    if frame.empty:
        raise ChannelNotFound(f"no statistics stored for {ref} yet")
    row = records(frame, list(frame.columns))[0]
    row["derived"] = True
    return row


@dataclass(frozen=True)
class VideoPage:
    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


def list_videos(
    warehouse: Warehouse,
    ref: str,
    *,
    page: int = 1,
    page_size: int = 50,
    sort: str = "published_at",
    descending: bool = True,
    where: str | None = None,
) -> VideoPage:
    """One page of a channel's videos, sorted and filtered with the safe filter language."""
    if sort not in VIDEO_SORT_KEYS:
        raise ConfigError(f"cannot sort by {sort!r}; choose one of {', '.join(VIDEO_SORT_KEYS)}")
    channel_id = resolve_stored_channel(warehouse, ref)
    videos = warehouse.load_frames([channel_id], since=utc_now())["videos"]
    if where:
        videos = videos[parse_query(where).mask(videos).to_numpy(dtype=bool)]
    videos = videos.sort_values(sort, ascending=not descending, na_position="last", kind="stable")
    start = (page - 1) * page_size
    items = records(videos.iloc[start : start + page_size], VIDEO_FIELDS)
    return VideoPage(items, len(videos), page, page_size)


def channel_analysis(warehouse: Warehouse, ref: str, *, now: datetime | None = None) -> ChannelAnalysis:
    channel_id = resolve_stored_channel(warehouse, ref)
    return analyze_channel(load_channel_frames(warehouse, [channel_id]), channel_id, now or utc_now())


def channel_ab_test(
    warehouse: Warehouse, ref: str, group_a: str, group_b: str | None = None, *, now: datetime | None = None
) -> AbTestResult:
    channel_id = resolve_stored_channel(warehouse, ref)
    frames = load_channel_frames(warehouse, [channel_id])
    return run_ab_test(frames, group_a, group_b, now=now or utc_now())


def peer_comparison(
    warehouse: Warehouse, refs: Sequence[str], *, now: datetime | None = None
) -> list[BenchmarkResult]:
    if len(refs) < 2:
        raise ConfigError("a comparison needs at least two channels")
    ids = list(dict.fromkeys(resolve_stored_channel(warehouse, ref) for ref in refs))
    fleet = fleet_kpis_duckdb(warehouse.connection(), now or utc_now())
    fleet = fleet[fleet["channel_id"].isin(ids)]
    return [benchmark_channel(fleet, channel_id, peer_ids=ids) for channel_id in ids]
