"""Read-side jobs the REST service and dashboard share: channels, videos, KPIs, analyses.

The service keeps one warehouse open for its whole life (:class:`WarehousePool`) and gives each
worker thread its own DuckDB cursor, because a DuckDB connection must not be used by two threads
at once and a second *read-only* connection to a file already open read-write in the same
process is refused.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from tubescope.analysis.abtest import AbTestResult, run_ab_test
from tubescope.analysis.benchmark import BenchmarkResult, compare_peers, peer_table
from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.kpis import channel_kpis_from_table
from tubescope.analysis.kpis_postgres import fleet_kpis_postgres_sql
from tubescope.analysis.query import parse_query
from tubescope.analysis.summary import (
    NO_CAP,
    ChannelAnalysis,
    analyze_channel,
    fleet_kpis,
    fleet_kpis_duckdb,
    kpi_frame,
)
from tubescope.domain.refs import RefKind, parse_channel_ref
from tubescope.errors import ChannelNotFound, ConfigError, StorageError
from tubescope.jobs.common import (
    last_observed,
    load_channel_frames,
    newest_observation,
    resolve_stored_channel,
    share_warehouse,
    utc_now,
)
from tubescope.pipeline.kpi_aggregates import maintained_kpis
from tubescope.warehouse import archive as cold_archive
from tubescope.warehouse import frames as frame_sql
from tubescope.warehouse.filelease import DEFAULT_WAIT_SECONDS, knocking
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import PostgresTarget, WarehouseTarget

VIDEO_SORT_KEYS = ("published_at", "view_count", "like_count", "comment_count", "duration_seconds", "title")


_live_pools: dict[Path, list[WarehousePool]] = {}
_live_lock = threading.Lock()


class WarehousePool:
    """One open warehouse, a fresh cursor-backed :class:`Warehouse` per use.

    Jobs borrow the newest live pool of their file; closing one pool hands the file to the
    pools still open on it (two services in one process, as in tests), never to nobody.

    The pool shares its DuckDB file with other processes (:mod:`tubescope.warehouse.filelease`):
    when a CLI command knocks, the pool stops lending, waits for the uses in flight to end,
    closes the file and reopens it on the next use, after the other process is done with it.
    A watcher thread lets go of an idle pool's file within :data:`WATCH_INTERVAL`. On each reopen
    the pool compares the runs table with what it saw before and, when another process started or
    landed a run, calls ``on_change`` with every stored channel id, so caches built on the old data
    are dropped.
    """

    WATCH_INTERVAL = 0.05

    def __init__(
        self,
        db_path: Path,
        *,
        on_change: Callable[[list[str]], None] | None = None,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self.db_path = Path(db_path)
        self._on_change = on_change
        self._wait_seconds = wait_seconds
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False
        self.handovers = 0
        """How often the file was handed to another process (for tests and metrics)."""
        self._root: Warehouse | None = self._open_root()
        self._signature = self._runs_signature(self._root)
        with _live_lock:
            _live_pools.setdefault(self.db_path.resolve(), []).append(self)
            share_warehouse(self.db_path, self.borrow)
        self._watcher = threading.Thread(target=self._watch, name="warehouse-lease", daemon=True)
        self._watcher.start()

    def _open_root(self) -> Warehouse:
        # One DuckDB worker thread: the service runs many small queries at once, so requests
        # are its parallelism; and DuckDB refuses a second connection to the file with another
        # configuration, so this must match the collection job's open (``threads=1``), which
        # runs inside the service too.
        return Warehouse.open(self.db_path, threads=1, wait_seconds=self._wait_seconds)

    @staticmethod
    def _runs_signature(warehouse: Warehouse) -> tuple[Any, ...]:
        row = (
            warehouse.connection()
            .execute(
                "SELECT count(*), max(run_id), max(finished_at), count(*) FILTER (WHERE status = 'running')"
                " FROM collection_runs"
            )
            .fetchone()
        )
        return tuple(row) if row else ()

    @staticmethod
    def _channel_ids(warehouse: Warehouse) -> list[str]:
        rows = warehouse.connection().execute("SELECT channel_id FROM channels").fetchall()
        return [str(row[0]) for row in rows]

    def _release(self) -> None:
        """Close the file (caller holds the condition, nothing borrowed)."""
        if self._root is not None:
            self._root.close()
            self._root = None
            self.handovers += 1

    def _acquire(self) -> Warehouse:
        """The open root, handing the file over first when another process knocks."""
        if self._closed:
            raise StorageError(f"the service's warehouse pool for {self.db_path} is closed")
        if self._root is not None and knocking(self.db_path):
            while self._active > 0:
                self._cond.wait(timeout=self.WATCH_INTERVAL)
            self._release()
        if self._root is None:
            self._root = self._open_root()
            signature = self._runs_signature(self._root)
            if signature != self._signature:
                self._signature = signature
                if self._on_change is not None:
                    self._on_change(self._channel_ids(self._root))
        return self._root

    def _watch(self) -> None:
        while True:
            time.sleep(self.WATCH_INTERVAL)
            with self._cond:
                if self._closed:
                    return
                if self._root is not None and self._active == 0 and knocking(self.db_path):
                    self._release()

    @contextmanager
    def borrow(self) -> Iterator[Warehouse]:
        """A warehouse for one use (one request or one job step); opening it does no IO while
        this process holds the file."""
        with self._cond:
            root = self._acquire()
            cursor = root.connection().cursor()
            self._active += 1
        warehouse = Warehouse(cursor, self.db_path, read_only=False, clock=utc_now)
        try:
            yield warehouse
        finally:
            warehouse.close()
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def ready(self) -> dict[str, Any]:
        """Readiness facts: the database answers and its schema is the one this program writes."""
        with self.borrow() as warehouse:
            version = warehouse.schema_version
            counts = warehouse.table_counts()
        return {"schema_version": version, "tables": counts}

    def close(self) -> None:
        """Close the file for good and hand in-process jobs to another live pool of it, if any."""
        with _live_lock:
            others = [p for p in _live_pools.get(self.db_path.resolve(), []) if p is not self]
            _live_pools[self.db_path.resolve()] = others
            share_warehouse(self.db_path, others[-1].borrow if others else None)
        with self._cond:
            self._closed = True
            if self._root is not None:
                self._root.close()
                self._root = None
            self._cond.notify_all()


class PostgresPool:
    """The service's warehouse on PostgreSQL: each use borrows a connection from psycopg's pool
    (one per process and database), so replicas, workers and CLI commands share the database
    with no handover. Same interface as :class:`WarehousePool`."""

    handovers = 0

    def __init__(self, target: PostgresTarget) -> None:
        self.db_path = target
        Warehouse.open(target).close()  # migrate (once, under the lock) before serving

    @contextmanager
    def borrow(self) -> Iterator[Warehouse]:
        """A warehouse for one use (a pooled connection, handed back after it)."""
        with Warehouse.open(self.db_path) as warehouse:
            yield warehouse

    def ready(self) -> dict[str, Any]:
        """Readiness facts: the database answers and its schema is the one this program writes."""
        with self.borrow() as warehouse:
            return {"schema_version": warehouse.schema_version, "tables": warehouse.table_counts()}

    def close(self) -> None:
        """Nothing to let go: the connection pool lives as long as the process."""


ServicePool = WarehousePool | PostgresPool


def open_pool(
    target: WarehouseTarget,
    *,
    on_change: Callable[[list[str]], None] | None = None,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> ServicePool:
    """The service's warehouse pool for ``target``: a shared DuckDB file or a PostgreSQL database.

    ``on_change`` (DuckDB only) is told when another process landed a run; on PostgreSQL every
    replica reads the same database, and runs announce themselves through the cache tiers.
    """
    if isinstance(target, PostgresTarget):
        return PostgresPool(target)
    return WarehousePool(target, on_change=on_change, wait_seconds=wait_seconds)


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


_CHANNEL_ROWS_SQL = (
    f"SELECT {', '.join(CHANNEL_FIELDS)} FROM channels {{where}} ORDER BY lower(title), channel_id"  # noqa: S608 -- fixed column names
)

_VIDEO_PAGE_SQL = """
SELECT video_id, title, published_at, CAST(duration_seconds AS FLOAT8) AS duration_seconds, video_format,
       array_to_string(tags, '|') AS tags, category_id, latest_view_count AS view_count,
       latest_like_count AS like_count, latest_comment_count AS comment_count, is_deleted
FROM videos WHERE channel_id = ?
ORDER BY {sort} {direction} NULLS LAST, published_at, video_id
LIMIT ? OFFSET ?
"""
"""A page without a filter, in the order the pandas path gives: ties keep the frame's order."""

_RESOLVE_SQL = {
    RefKind.CHANNEL_ID: "SELECT channel_id FROM channels WHERE channel_id = ?",
    RefKind.HANDLE: "SELECT channel_id FROM channels WHERE lower(handle) = lower(?)",
    RefKind.VIDEO: "SELECT channel_id FROM videos WHERE video_id = ?",
}

KpiSource = Callable[[str], pd.DataFrame]
"""Gives the fleet-KPI table row of one stored channel id (the service passes a cached one)."""


def resolve_channel(warehouse: Warehouse, ref: str) -> str:
    """:func:`resolve_stored_channel` without its pandas round trip, which costs more than the
    lookup itself and runs on every request; failures go through it for the same errors."""
    parsed = parse_channel_ref(ref)
    sql = _RESOLVE_SQL.get(parsed.kind)
    if sql is not None:
        found = warehouse.query_arrow(sql, [parsed.value])
        if found.num_rows:
            return str(found.column(0)[0].as_py())
    return resolve_stored_channel(warehouse, ref)


def arrow_records(table: pa.Table) -> list[dict[str, Any]]:
    """JSON-safe rows of an Arrow result, as :func:`records` gives them for the same frame."""
    return [{k: _clean(v) for k, v in row.items()} for row in table.to_pylist()]


def list_channels(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Every stored channel, by title; reads only the channels table."""
    return arrow_records(warehouse.query_arrow(_CHANNEL_ROWS_SQL.format(where="")))


def channel_row(warehouse: Warehouse, ref: str) -> dict[str, Any]:
    """One stored channel's row (id, title, handle, latest counts)."""
    channel_id = resolve_channel(warehouse, ref)
    table = warehouse.query_arrow(_CHANNEL_ROWS_SQL.format(where="WHERE channel_id = ?"), [channel_id])
    return arrow_records(table)[0]


def channel_videos_frame(warehouse: Warehouse, channel_id: str) -> pd.DataFrame:
    """The ``videos`` frame of one stored channel id (latest counts included)."""
    where_sql, params = frame_sql.where_clause([channel_id], None, time_column=None)
    return frame_sql.arrow_to_frame(
        warehouse.query_arrow(frame_sql.videos_sql(warehouse.dialect, where_sql), params),
        frame_sql.CONTRACT_COLUMNS["videos"],
    )


def fleet_kpi_table(
    warehouse: Warehouse, *, now: datetime | None = None, channel_id: str | None = None
) -> pd.DataFrame:
    """The fleet-KPI table (or one channel's row): the rows maintained when runs land where they
    are up to date (:mod:`tubescope.pipeline.kpi_aggregates`), else :func:`fleet_kpi_scan`."""
    maintained = maintained_kpis(warehouse, now, channel_id=channel_id)
    if maintained is not None:
        return maintained
    return fleet_kpi_scan(warehouse, now=now, channel_id=channel_id)


def fleet_kpi_scan(
    warehouse: Warehouse, *, now: datetime | None = None, channel_id: str | None = None
) -> pd.DataFrame:
    """The fleet-KPI table (or one channel's row) computed over every snapshot row, hot and
    cold, in the warehouse's own SQL: DuckDB's or PostgreSQL's twin, which give the same table."""
    at = now or NO_CAP  # no cap: each channel's window ends at its own last observation
    if cold_archive.segments(warehouse):
        return _fleet_kpis_hot_and_cold(warehouse, at, channel_id)
    if warehouse.backend == "duckdb":
        return fleet_kpis_duckdb(warehouse.connection(), at, channel_id=channel_id)
    params: dict[str, Any] = {"now": at}
    if channel_id is not None:
        params["channel_id"] = channel_id
    sql = fleet_kpis_postgres_sql(one_channel=channel_id is not None)
    return kpi_frame(warehouse.query(sql, params))


_KPI_SNAPSHOT_COLUMNS = {
    "video_snapshots": ("video_id", "channel_id", "observed_at", "view_count", "like_count", "comment_count"),
    "channel_snapshots": ("channel_id", "observed_at", "subscriber_count", "view_count", "video_count"),
}


def _fleet_kpis_hot_and_cold(warehouse: Warehouse, at: datetime, channel_id: str | None) -> pd.DataFrame:
    """Fleet KPIs over the hot tables and the cold archive together (the same table as before
    the archive): DuckDB reads the archived rows as Arrow beside its own; PostgreSQL computes
    them in pandas over the merged frames."""
    ids = [channel_id] if channel_id is not None else None
    if warehouse.backend != "duckdb":
        frames = warehouse.load_frames(ids)
        merged = ChannelFrames(**frames)
        return kpi_frame(fleet_kpis(merged, at, ids))
    con = warehouse.connection()
    suffix = uuid.uuid4().hex[:12]
    names: dict[str, str] = {}
    try:
        for table, columns in _KPI_SNAPSHOT_COLUMNS.items():
            archived = cold_archive.read_cold(warehouse, table, columns, channel_ids=ids)
            if archived is None:
                continue
            listed = ", ".join(columns)
            con.register(f"_cold_{table}_{suffix}", archived)
            names[table] = f"_all_{table}_{suffix}"
            con.execute(
                f"CREATE TEMP VIEW {names[table]} AS SELECT {listed} FROM {table}"  # noqa: S608
                f" UNION ALL SELECT {listed} FROM _cold_{table}_{suffix}"
            )
        return fleet_kpis_duckdb(con, at, channel_id=channel_id, **names)
    finally:
        for table, view in names.items():
            con.execute(f"DROP VIEW IF EXISTS {view}")
            con.unregister(f"_cold_{table}_{suffix}")


def channel_kpi_table(warehouse: Warehouse, channel_id: str, *, now: datetime | None = None) -> pd.DataFrame:
    """The fleet-KPI table restricted to one stored channel id (empty before any statistics);
    its window ends at the channel's last observation (at or before ``now``, when given)."""
    return fleet_kpi_table(warehouse, now=now, channel_id=channel_id)


def channel_kpis(
    warehouse: Warehouse, ref: str, *, now: datetime | None = None, kpi_table: KpiSource | None = None
) -> dict[str, Any]:
    """The key figures of one channel (:class:`~tubescope.analysis.kpis.ChannelKpis` as JSON):
    as of its last observation, flagged stale against the warehouse's newest, nulls with reasons."""
    channel_id = resolve_channel(warehouse, ref)
    frame = (kpi_table or (lambda cid: channel_kpi_table(warehouse, cid, now=now)))(channel_id)
    if frame.empty:
        raise ChannelNotFound(f"no statistics stored for {ref} yet")
    reference = now or newest_observation(warehouse)
    return channel_kpis_from_table(frame, channel_id, reference).to_dict()


@dataclass(frozen=True)
class VideoPage:
    """One page of a channel's video table, with the total number of matching videos."""

    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int


class ChannelVideos:
    """One channel's videos made ready for paging: JSON rows and sort orders computed once.

    A page is then a filter mask, an index walk and a slice; filtering a stable sort order
    gives exactly the order of sorting the filtered rows, so the answer is the one a fresh
    ``filter -> sort_values(kind="stable") -> slice`` would give. Safe to share between threads.
    """

    MAX_FILTERS = 64
    """Filter masks kept per channel (dashboards reuse a few filters; the rest come and go)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.reset_index(drop=True)
        self.rows = records(self.frame, VIDEO_FIELDS)
        self._orders: dict[tuple[str, bool], np.ndarray[Any, np.dtype[np.intp]]] = {}
        self._masks: dict[str, np.ndarray[Any, np.dtype[np.bool_]]] = {}

    def has_filter(self, where: str) -> bool:
        """Whether ``where`` was evaluated already, so a page with it is only index work."""
        return where in self._masks

    def mask(self, where: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Which videos match the query ``where`` (cached per query)."""
        found = self._masks.get(where)
        if found is None:
            found = parse_query(where).mask(self.frame).to_numpy(dtype=bool)
            if len(self._masks) >= self.MAX_FILTERS:
                self._masks.clear()
            self._masks[where] = found
        return found

    def __len__(self) -> int:
        return len(self.rows)

    def order(self, sort: str, descending: bool) -> np.ndarray[Any, np.dtype[np.intp]]:
        """Video positions sorted by ``sort``; raises ConfigError for an unknown sort key."""
        if sort not in VIDEO_SORT_KEYS:
            raise ConfigError(f"cannot sort by {sort!r}; choose one of {', '.join(VIDEO_SORT_KEYS)}")
        key = (sort, descending)
        found = self._orders.get(key)
        if found is None:  # two threads may both compute it; either result is the same
            ordered = self.frame.sort_values(
                sort, ascending=not descending, na_position="last", kind="stable"
            )
            found = self._orders[key] = ordered.index.to_numpy(dtype=np.intp)
        return found

    def prepare_orders(self) -> None:
        """Compute every sort order now (the cache warmer does), so no page request sorts."""
        for sort in VIDEO_SORT_KEYS:
            for descending in (False, True):
                self.order(sort, descending)

    def page(
        self,
        *,
        page: int = 1,
        page_size: int = 50,
        sort: str = "published_at",
        descending: bool = True,
        where: str | None = None,
    ) -> VideoPage:
        """One page of videos matching ``where``, sorted by ``sort``."""
        positions = self.order(sort, descending)
        if where:
            positions = positions[self.mask(where)[positions]]
        start = (page - 1) * page_size
        items = [self.rows[i] for i in positions[start : start + page_size]]
        return VideoPage(items, len(positions), page, page_size)


def channel_videos(warehouse: Warehouse, channel_id: str) -> ChannelVideos:
    """One channel's videos, made ready for paging (:class:`ChannelVideos`)."""
    return ChannelVideos(channel_videos_frame(warehouse, channel_id))


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
    """One page of a channel's videos, sorted and filtered with the safe filter language.

    A filter is evaluated on the channel's frame (the filter language works on pandas and is
    never pasted into SQL); without one the page is cut in DuckDB and only its rows fetched.
    A long-lived caller keeps :func:`channel_videos` and pages it instead.
    """
    if sort not in VIDEO_SORT_KEYS:
        raise ConfigError(f"cannot sort by {sort!r}; choose one of {', '.join(VIDEO_SORT_KEYS)}")
    channel_id = resolve_channel(warehouse, ref)
    if where:
        parse_query(where)  # a bad filter is reported before any data is read
        videos = channel_videos(warehouse, channel_id)
        return videos.page(page=page, page_size=page_size, sort=sort, descending=descending, where=where)
    sql = _VIDEO_PAGE_SQL.format(sort=sort, direction="DESC" if descending else "ASC")
    table = warehouse.query_arrow(sql, [channel_id, page_size, (page - 1) * page_size])
    count = warehouse.query_arrow("SELECT count(*) FROM videos WHERE channel_id = ?", [channel_id])
    return VideoPage(arrow_records(table), int(count.column(0)[0].as_py()), page, page_size)


def channel_analysis(warehouse: Warehouse, ref: str, *, now: datetime | None = None) -> ChannelAnalysis:
    """Every analysis of one stored channel as of its last observation."""
    channel_id = resolve_stored_channel(warehouse, ref)
    frames = load_channel_frames(warehouse, [channel_id])
    reference = now or newest_observation(warehouse)
    clock = now or last_observed(frames, channel_id) or reference or utc_now()
    return analyze_channel(frames, channel_id, clock, reference=reference)


def channel_ab_test(
    warehouse: Warehouse, ref: str, group_a: str, group_b: str | None = None, *, now: datetime | None = None
) -> AbTestResult:
    """An A/B comparison of two groups of one stored channel's videos."""
    channel_id = resolve_stored_channel(warehouse, ref)
    frames = load_channel_frames(warehouse, [channel_id])
    return run_ab_test(frames, group_a, group_b, now=now or last_observed(frames, channel_id) or utc_now())


def peer_comparison(
    warehouse: Warehouse,
    refs: Sequence[str],
    *,
    now: datetime | None = None,
    kpi_table: KpiSource | None = None,
) -> list[BenchmarkResult]:
    """Each channel's KPIs as percentiles among the others named; KPIs are computed per channel,
    so a comparison costs what its channels cost, not what the whole fleet does."""
    if len(refs) < 2:
        raise ConfigError("a comparison needs at least two channels")
    ids = comparison_ids([resolve_channel(warehouse, ref) for ref in refs])
    source = kpi_table or (lambda cid: channel_kpi_table(warehouse, cid, now=now))
    table = peer_table(pd.concat([source(channel_id) for channel_id in ids], ignore_index=True))
    return compare_peers(table, ids, reference=now or newest_observation(warehouse))


def comparison_ids(channel_ids: Sequence[str]) -> list[str]:
    """The distinct stored ids of a comparison, in order; ConfigError when fewer than two."""
    ids = list(dict.fromkeys(channel_ids))
    if len(ids) < 2:
        raise ConfigError("a comparison needs at least two different channels")
    return ids


def last_collections(warehouse: Warehouse) -> dict[str, datetime]:
    """When each channel last finished a collection (its incremental state moves only then)."""
    frame = warehouse.query("SELECT channel_id, updated_at FROM channel_state")
    return {
        str(channel_id): pd.Timestamp(at).to_pydatetime()
        for channel_id, at in zip(frame["channel_id"], frame["updated_at"], strict=True)
    }
