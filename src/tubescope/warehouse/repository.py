"""The warehouse: runs, channels, videos, snapshots and the quarantine, in DuckDB or PostgreSQL.

``Warehouse.open(target)`` takes a DuckDB file path (the embedded default) or a
``postgresql://`` URL; the logic here is written once and reaches the engine only through a
:class:`~tubescope.warehouse.backend.Backend`, whose dialect holds the SQL that differs.

Writes are transactional per call (a batch lands whole or not at all) and idempotent per run:
a retried or resumed batch inserts nothing twice. Wrap a batch and its checkpoint in
:meth:`Warehouse.transaction` to make them land together.

With DuckDB one process writes at a time (DuckDB's rule); with PostgreSQL any number of
processes share the database. A ``Warehouse`` is used from one thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import pandas as pd
import pyarrow as pa

from tubescope.domain.models import Channel, ChannelSnapshot, Comment, Video, VideoFormat, VideoSnapshot
from tubescope.errors import ConfigError, DataQualityError, NotFoundError, RunTakenOver, StorageError
from tubescope.warehouse import frames as frame_sql
from tubescope.warehouse.backend import Backend, Dialect
from tubescope.warehouse.db import (
    DEFAULT_DB_PATH,
    DEFAULT_MEMORY_LIMIT,
    Clock,
    NeedsMigration,
    TransactionScope,
    connect,
    prepare_schema,
    utc_now,
)
from tubescope.warehouse.duckdb_backend import DuckDbBackend
from tubescope.warehouse.filelease import DEFAULT_WAIT_SECONDS, WarehouseLocked, knocking, wait_for_file
from tubescope.warehouse.lineage import (
    RESUMABLE_STATUSES,
    RUN_COLUMNS,
    RunStatus,
    RunSummary,
    check_fingerprints,
    merge_counts,
    normalise_refs,
    scrub_error,
    summary_from_row,
)
from tubescope.warehouse.quality import (
    DEFAULT_RULES,
    QualityIssue,
    QualityReport,
    QualityRules,
    check_video_snapshots,
)
from tubescope.warehouse.quarantine import QuarantineRecord, payload_json
from tubescope.warehouse.state import Checkpoint, IncrementalState, PruneResult, WriteResult
from tubescope.warehouse.target import PostgresTarget, WarehouseTarget, parse_target, redact_url

_TS = pa.timestamp("us", tz="UTC")

_VIDEO_INSERT = """
    INSERT INTO videos (video_id, channel_id, title, description, published_at,
        duration_seconds, duration_raw, video_format, tags, category_id,
        default_language, live_broadcast_content, privacy_status,
        live_scheduled_start_at, live_actual_start_at, live_actual_end_at, live_concurrent_viewers,
        first_seen_run_id, run_id, source, fetched_at, is_deleted)
    SELECT video_id, channel_id, title, description, published_at, duration_seconds,
           duration_raw, video_format, tags, category_id, default_language,
           live_broadcast_content, privacy_status,
           live_scheduled_start_at, live_actual_start_at, live_actual_end_at, live_concurrent_viewers,
           CAST(? AS BIGINT), CAST(? AS BIGINT), ?, CAST(? AS TIMESTAMPTZ), false
    FROM _video_batch
"""
# The metadata refresh of videos already stored (the plain insert skips it when none are).
_VIDEO_UPSERT = """
    ON CONFLICT (video_id) DO UPDATE SET
        channel_id = excluded.channel_id, title = excluded.title,
        description = excluded.description, published_at = excluded.published_at,
        duration_seconds = excluded.duration_seconds,
        duration_raw = excluded.duration_raw, video_format = excluded.video_format,
        tags = excluded.tags, category_id = excluded.category_id,
        default_language = excluded.default_language,
        live_broadcast_content = excluded.live_broadcast_content,
        privacy_status = excluded.privacy_status,
        live_scheduled_start_at = excluded.live_scheduled_start_at,
        live_actual_start_at = excluded.live_actual_start_at,
        live_actual_end_at = excluded.live_actual_end_at,
        live_concurrent_viewers = excluded.live_concurrent_viewers, run_id = excluded.run_id,
        source = excluded.source, fetched_at = excluded.fetched_at,
        is_deleted = false, deleted_at = NULL, deleted_reason = NULL,
        deleted_run_id = NULL
"""


def _live_columns(items: Sequence[Video]) -> dict[str, pa.Array]:
    """``liveStreamingDetails`` as the ``videos.live_*`` columns: NULL where not sent."""
    lives = [v.live for v in items]
    return {
        "live_scheduled_start_at": pa.array([lv.scheduled_start_at if lv else None for lv in lives], _TS),
        "live_actual_start_at": pa.array([lv.actual_start_at if lv else None for lv in lives], _TS),
        "live_actual_end_at": pa.array([lv.actual_end_at if lv else None for lv in lives], _TS),
        "live_concurrent_viewers": pa.array(
            [lv.concurrent_viewers if lv else None for lv in lives], pa.int64()
        ),
    }


# Marks the channels of what a write stored as stale in the maintained fleet KPIs
# (``channel_kpis``), in the write's own transaction; ``{ids}`` is a query with a channel_id column.
_MARK_KPIS_STALE = """
    INSERT INTO channel_kpis_stale (channel_id)
    SELECT DISTINCT b.channel_id FROM ({ids}) AS b
    WHERE b.channel_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM channel_kpis_stale s WHERE s.channel_id IN (b.channel_id, '*'))
"""

SNAPSHOT_TABLES = ("video_snapshots", "channel_snapshots")
USER_TABLES = (
    "collection_runs",
    "channels",
    "channel_snapshots",
    "videos",
    "video_snapshots",
    "video_status_events",
    "comments",
    "quarantine",
    "collection_checkpoints",
    "checkpoint_videos_done",
    "channel_state",
    "retention_log",
    "api_tokens",
    "model_manifests",
    "watches",
    "websub_subscriptions",
    "alerts",
    "video_early_points",
    "alert_rules",
    "alert_cooldowns",
    "watch_dense_passes",
)


def _require_aware(name: str, values: Sequence[datetime | None]) -> None:
    for value in values:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise DataQualityError(f"{name} {value!r} has no time zone; tubescope stores UTC only")


def _fetch_times(
    fetched_at: datetime | Sequence[datetime] | None, count: int, clock: Clock
) -> Sequence[datetime]:
    """One fetch time per row: the caller's one for all, the caller's list, or now for all."""
    if fetched_at is None or isinstance(fetched_at, datetime):
        return [fetched_at or clock()] * count
    if len(fetched_at) != count:
        raise ValueError(f"{len(fetched_at)} fetch times for {count} rows")
    return fetched_at


class Warehouse(AbstractContextManager["Warehouse"]):
    """Open with :meth:`open`; close with :meth:`close` or a ``with`` block."""

    def __init__(
        self,
        con: Backend | duckdb.DuckDBPyConnection,
        path: WarehouseTarget,
        *,
        read_only: bool,
        clock: Clock,
        reopen: Callable[[], duckdb.DuckDBPyConnection] | None = None,
    ) -> None:
        # A raw DuckDB connection (or cursor) is wrapped; any other backend is used as given.
        # ``reopen`` is set for a leased DuckDB warehouse: how to take the file back after
        # handing it over.
        backend: Backend
        if isinstance(con, duckdb.DuckDBPyConnection):
            backend = DuckDbBackend(con, Path(str(path)), reopen=reopen)
        else:
            backend = con
        self._backend: Backend | None = backend
        self.path = path
        self.read_only = read_only
        self._clock = clock
        self._transaction = TransactionScope(
            backend, after_commit=self.release_if_wanted if reopen is not None else None
        )
        self._run_sources: dict[int, str] = {}
        # run_id -> (transaction generation, source): a run checked writable inside the current
        # transaction stays writable until it ends (only finish_run/resume_run change a status).
        self._writable_checked: dict[int, tuple[int, str]] = {}
        # run_id -> the attempt this instance started or resumed: the run's fencing token. Another
        # process that resumes the run (a job whose lease lapsed) bumps the stored count, and
        # every later write of this attempt is refused with RunTakenOver instead of doubling rows.
        self._run_attempts: dict[int, int] = {}
        self._dialect = backend.dialect

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path | PostgresTarget = DEFAULT_DB_PATH,
        *,
        read_only: bool = False,
        clock: Clock | None = None,
        memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
        migrate: bool = True,
        threads: int | None = None,
        lease: bool = False,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        on_wait: Callable[[WarehouseLocked], None] | None = None,
    ) -> Warehouse:
        """Open (creating if needed) and migrate the warehouse at ``path``, waiting for the file.

        ``path`` is a DuckDB file or a ``postgresql://`` URL; on PostgreSQL nothing waits (any
        number of processes share it) and ``lease`` does not apply.

        When another process (``tubescope serve``, a running collect) holds the file, this asks it
        to let go and waits up to ``wait_seconds`` (see :mod:`tubescope.warehouse.filelease`);
        ``on_wait`` is told once that it waits. With ``lease=True`` this warehouse lets go of
        the file itself at the end of any transaction while another process waits for it, and
        takes it back on its next use: long writers (the collector) open it so.

        See :meth:`open_now` for the other options.
        """
        target = parse_target(path)
        if isinstance(target, PostgresTarget):
            return cls.open_now(target, read_only=read_only, clock=clock, migrate=migrate)
        db_path = target

        def attempt() -> Warehouse:
            return cls.open_now(
                db_path,
                read_only=read_only,
                clock=clock,
                memory_limit=memory_limit,
                migrate=migrate,
                threads=threads,
            )

        warehouse = wait_for_file(db_path, attempt, wait_seconds=wait_seconds, on_wait=on_wait)
        if lease:

            def reopen() -> duckdb.DuckDBPyConnection:
                return wait_for_file(
                    db_path,
                    lambda: connect(db_path, read_only=read_only, memory_limit=memory_limit, threads=threads),
                    wait_seconds=wait_seconds,
                )

            backend = warehouse._live
            assert isinstance(backend, DuckDbBackend)
            backend.reopen = reopen
            warehouse._transaction = TransactionScope(backend, after_commit=warehouse.release_if_wanted)
        return warehouse

    @classmethod
    def open_now(
        cls,
        path: str | Path | PostgresTarget = DEFAULT_DB_PATH,
        *,
        read_only: bool = False,
        clock: Clock | None = None,
        memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
        migrate: bool = True,
        threads: int | None = None,
    ) -> Warehouse:
        """Open (creating if needed) and migrate the warehouse at ``path``.

        ``path`` is a DuckDB file or a ``postgresql://`` URL (see
        :func:`~tubescope.warehouse.target.parse_target`); :attr:`backend` says which.

        A read-only open of a database left by an older tubescope migrates it first (briefly
        writable), so reading commands work right after an upgrade; ``migrate=False`` refuses
        instead. On PostgreSQL the migration runs once, under an advisory lock, however many
        processes open the database together. ``memory_limit`` caps DuckDB's working memory
        (big sorts and aggregations spill to ``<db>.tmp``); ``None`` leaves DuckDB's default of
        80% of RAM. ``threads`` caps DuckDB's worker threads (``None``: one per core); a writer of
        many small transactions, like the collector, spends less CPU with one. Both are ignored
        on PostgreSQL.

        Raises :class:`~tubescope.errors.SchemaVersionError` for a database written by a newer
        tubescope, and :class:`~tubescope.errors.StorageError` when it cannot be opened.
        """
        target = parse_target(path)
        now = clock or utc_now
        if isinstance(target, PostgresTarget):
            return cls._open_postgres(target, read_only=read_only, clock=now, migrate=migrate)
        db_path = target
        con = connect(db_path, read_only=read_only, memory_limit=memory_limit, threads=threads)
        try:
            prepare_schema(con, db_path, read_only=read_only, now=now())
        except NeedsMigration:
            con.close()
            if not migrate:
                raise
            cls.open_now(db_path, clock=now, memory_limit=memory_limit, threads=threads).close()
            return cls.open_now(
                db_path, read_only=True, clock=now, memory_limit=memory_limit, migrate=False, threads=threads
            )
        except BaseException:
            con.close()
            raise
        return cls(con, db_path, read_only=read_only, clock=now)

    @classmethod
    def _open_postgres(
        cls, target: PostgresTarget, *, read_only: bool, clock: Clock, migrate: bool
    ) -> Warehouse:
        from tubescope.warehouse import postgres_backend

        backend = postgres_backend.open_backend(target)
        try:
            backend.migrate(now=clock(), allowed=migrate)
        except BaseException:
            backend.close()
            raise
        return cls(backend, target, read_only=read_only, clock=clock)

    @property
    def backend(self) -> str:
        """``"duckdb"`` (the embedded file) or ``"postgresql"``."""
        return self._live.name

    @property
    def dialect(self) -> Dialect:
        """The SQL that differs on this backend (see :mod:`tubescope.warehouse.backend`)."""
        return self._dialect

    @property
    def target(self) -> WarehouseTarget:
        """The DuckDB file or the PostgreSQL database (printing it never shows a password)."""
        return self.path

    def close(self) -> None:
        """Close for good (a leased warehouse does not reopen after this)."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def release_if_wanted(self) -> bool:
        """A leased warehouse closes its file when another process waits for it and no
        transaction is open; it reopens on its next use. Returns whether it let go."""
        backend = self._backend
        if not isinstance(backend, DuckDbBackend) or not backend.leased or not backend.is_open:
            return False
        if self._transaction.active or not knocking(backend.target):
            return False
        backend.release()
        return True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    @property
    def _live(self) -> Backend:
        if self._backend is None:
            raise StorageError(f"warehouse {self.path} is closed")
        return self._backend

    @property
    def _db(self) -> duckdb.DuckDBPyConnection:
        backend = self._live
        if not isinstance(backend, DuckDbBackend):
            raise StorageError(f"{self.path} is a PostgreSQL warehouse: there is no DuckDB connection")
        return backend.connection

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The raw DuckDB connection, for SQL aggregations (do not close it); DuckDB only."""
        return self._db

    def transaction(self) -> AbstractContextManager[Backend]:
        """All writes inside land together or not at all (nestable)."""
        if self.read_only:
            raise StorageError(f"{self.path} is open read-only")
        return self._transaction()

    @property
    def schema_version(self) -> int:
        """The schema version of the database."""
        row = self.fetchone("SELECT max(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    # -- SQL helpers ---------------------------------------------------------------------------

    def fetchall(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run SQL (``?`` or ``$name`` placeholders, portable across backends); every row."""
        return self._live.rows(sql, params)

    def fetchone(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> tuple[Any, ...] | None:
        """Run SQL; its first row, or None."""
        rows = self._live.rows(sql, params)
        return rows[0] if rows else None

    def _count(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> int:
        return self._live.count(sql, params)

    def query_arrow(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pa.Table:
        """Run SQL and return an Arrow table (aggregate in the database; fetch only the result)."""
        backend = self._live
        try:
            return backend.arrow(sql, params)
        except backend.errors as exc:
            raise StorageError(f"query failed: {redact_url(str(exc))}") from None

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run SQL and return pandas with nullable ``Int64`` integers and ns UTC timestamps."""
        table = self.query_arrow(sql, params)
        return frame_sql.arrow_to_frame(table, ())

    def table_counts(self) -> dict[str, int]:
        """The number of rows in each table."""
        counts: dict[str, int] = {}
        for table in USER_TABLES:
            row = self.fetchone(f"SELECT count(*) FROM {table}")  # noqa: S608 -- fixed names
            counts[table] = int(row[0]) if row else 0
        return counts

    def _register(self, name: str, table: pa.Table) -> None:
        self._live.stage(name, table)

    def _unregister(self, name: str) -> None:
        self._live.unstage(name)

    # -- lineage ---------------------------------------------------------------------------------

    def start_run(
        self,
        source: str,
        refs: Sequence[str],
        key_fingerprints: Sequence[str],
        *,
        started_at: datetime | None = None,
    ) -> int:
        """Record a new ``running`` collection run and return its ``run_id``."""
        if not source.strip():
            raise ConfigError("a run needs a source name")
        fingerprints = check_fingerprints(key_fingerprints)
        at = started_at or self._clock()
        _require_aware("started_at", [at])
        with self.transaction() as con:
            run_id = int(con.rows("SELECT nextval('run_id_seq')")[0][0])
            con.rows(
                "INSERT INTO collection_runs (run_id, source, started_at, status, channel_refs,"
                " key_fingerprints) VALUES (?, ?, ?, 'running', ?, ?)",
                [run_id, source, at, list(normalise_refs(refs)), list(fingerprints)],
            )
        self._run_sources[run_id] = source
        self._run_attempts[run_id] = 1
        return run_id

    def get_run(self, run_id: int) -> RunSummary:
        """The collection run ``run_id``; raises NotFoundError when there is none."""
        row = self.fetchone(
            f"SELECT {RUN_COLUMNS} FROM collection_runs WHERE run_id = ?",  # noqa: S608 -- fixed columns
            [run_id],
        )
        if row is None:
            raise NotFoundError(f"no collection run {run_id} in {self.path}")
        return summary_from_row(row)

    def run_summaries(self, limit: int = 50, *, source: str | None = None) -> list[RunSummary]:
        """The most recent runs first."""
        where = "WHERE source = ?" if source is not None else ""
        params: list[Any] = [source] if source is not None else []
        rows = self.fetchall(
            f"SELECT {RUN_COLUMNS} FROM collection_runs {where} ORDER BY run_id DESC LIMIT ?",  # noqa: S608
            [*params, limit],
        )
        return [summary_from_row(r) for r in rows]

    def find_resumable_run(self, source: str, refs: Sequence[str]) -> RunSummary | None:
        """The latest unfinished run of the same source over the same channel refs, if any."""
        statuses = sorted(s.value for s in RESUMABLE_STATUSES)
        row = self.fetchone(
            f"SELECT {RUN_COLUMNS} FROM collection_runs WHERE source = ? AND channel_refs = ?"  # noqa: S608
            f" AND status IN ({', '.join('?' for _ in statuses)}) ORDER BY run_id DESC LIMIT 1",
            [source, list(normalise_refs(refs)), *statuses],
        )
        return summary_from_row(row) if row else None

    def resume_run(self, run_id: int, *, key_fingerprints: Sequence[str] = ()) -> RunSummary:
        """Mark a stopped run ``running`` again; its checkpoints and rows stay its own."""
        run = self.get_run(run_id)
        if run.status not in RESUMABLE_STATUSES:
            raise StorageError(f"run {run_id} is {run.status.value}; only unfinished runs can be resumed")
        fingerprints = check_fingerprints([*run.key_fingerprints, *key_fingerprints])
        with self.transaction() as con:
            # The count this UPDATE wrote, not a later read: two processes resuming at once each
            # get their own attempt number, and the older one is fenced off.
            attempt = con.rows(
                "UPDATE collection_runs SET status = 'running', finished_at = NULL,"
                " attempts = attempts + 1, key_fingerprints = ? WHERE run_id = ? RETURNING attempts",
                [list(fingerprints), run_id],
            )[0][0]
        self._run_attempts[run_id] = int(attempt)
        self._writable_checked.pop(run_id, None)
        return self.get_run(run_id)

    def finish_run(
        self,
        run_id: int,
        status: RunStatus | str,
        error: str | None = None,
        counters: Mapping[str, int] | None = None,
        quota_spent: Mapping[str, int] | None = None,
        *,
        finished_at: datetime | None = None,
    ) -> RunSummary:
        """Close a run. ``counters`` and ``quota_spent`` (units per key fingerprint) of this attempt
        are added to those of earlier attempts of the same run."""
        try:
            final = RunStatus(status)
        except ValueError:
            raise ConfigError(f"unknown run status {status!r}") from None
        if final is RunStatus.RUNNING:
            raise ConfigError("finish_run needs a final status, not 'running'")
        check_fingerprints(list((quota_spent or {}).keys()))
        at = finished_at or self._clock()
        _require_aware("finished_at", [at])
        self._writable_checked.pop(run_id, None)
        with self.transaction() as con:
            # Read under the row lock: counters merge with what is stored now, and an attempt
            # that another process superseded cannot close the run under it.
            row = self.fetchone(
                f"SELECT {RUN_COLUMNS} FROM collection_runs WHERE run_id = ?{self._dialect.lock_update}",  # noqa: S608
                [run_id],
            )
            if row is None:
                raise NotFoundError(f"no collection run {run_id} in {self.path}")
            run = summary_from_row(row)
            self._check_attempt(run_id, run.attempts)
            spent = merge_counts(run.quota_spent, quota_spent)
            totals = merge_counts(run.counters, counters)
            fingerprints = sorted({*run.key_fingerprints, *spent})
            con.rows(
                "UPDATE collection_runs SET status = ?, finished_at = ?, error = ?, quota_spent = ?,"
                " counters = ?, key_fingerprints = ? WHERE run_id = ?",
                [
                    final.value,
                    at,
                    scrub_error(error),
                    json.dumps(spent, sort_keys=True),
                    json.dumps(totals, sort_keys=True),
                    fingerprints,
                    run_id,
                ],
            )
        return self.get_run(run_id)

    def _writable_run(self, run_id: int) -> str:
        """The run's source; refuses writes to unknown or finished runs (lineage must be true)."""
        scope = self._transaction
        checked = self._writable_checked.get(run_id)
        if scope.active and checked is not None and checked[0] == scope.generation:
            return checked[1]
        # Inside a transaction the shared lock holds the run's attempt count still until it ends:
        # a resume elsewhere waits for this write to commit, and this attempt's next one sees it.
        row = self.fetchone(
            "SELECT source, status, attempts FROM collection_runs"  # noqa: S608 -- fixed text
            f" WHERE run_id = ?{self._dialect.lock_shared}",
            [run_id],
        )
        if row is None:
            raise StorageError(f"no collection run {run_id}: start_run first")
        self._check_attempt(run_id, int(row[2]))
        if row[1] != RunStatus.RUNNING.value:
            raise StorageError(f"run {run_id} is {row[1]}; resume_run before writing to it")
        if scope.active:
            self._writable_checked[run_id] = (scope.generation, str(row[0]))
        return str(row[0])

    def _check_attempt(self, run_id: int, stored: int) -> None:
        mine = self._run_attempts.get(run_id)
        if mine is not None and stored != mine:
            raise RunTakenOver(
                f"run {run_id} was resumed elsewhere (attempt {stored}; this process holds attempt {mine}):"
                " this attempt stops writing and the newer one carries the run on"
            )

    # -- quarantine ------------------------------------------------------------------------------

    def quarantine(self, run_id: int, entity: str, entity_id: str | None, payload: Any, reason: str) -> int:
        """Keep a row that could not be stored, with why; returns its quarantine id.

        Idempotent within a run: quarantining the same payload for the same reason again (a
        retried batch) returns the existing record's id.
        """
        source = self._writable_run(run_id)
        text = payload_json(payload)
        with self.transaction() as con:
            self._quarantine_many(run_id, source, [(entity, entity_id, text, reason)])
            json_type = self._dialect.json_type
            sql = (
                "SELECT max(quarantine_id) FROM quarantine WHERE run_id = ? AND entity = ?"  # noqa: S608
                " AND entity_id IS NOT DISTINCT FROM CAST(? AS VARCHAR) AND reason = ?"
                f" AND CAST(payload AS VARCHAR) = CAST(CAST(? AS {json_type}) AS VARCHAR)"
            )
            found = con.rows(sql, [run_id, entity, entity_id, reason, text])
            row = found[0] if found else None
        assert row is not None and row[0] is not None
        return int(row[0])

    def _quarantine_many(
        self, run_id: int, source: str, rows: Sequence[tuple[str, str | None, Any, str]]
    ) -> int:
        if not rows:
            return 0
        table = pa.table(
            {
                "entity": pa.array([r[0] for r in rows], pa.string()),
                "entity_id": pa.array([r[1] for r in rows], pa.string()),
                "payload": pa.array([payload_json(r[2]) for r in rows], pa.string()),
                "reason": pa.array([r[3] for r in rows], pa.string()),
            }
        )
        self._register("_quarantine_batch", table)
        try:
            with self.transaction() as con:
                json_type = self._dialect.json_type
                inserted = con.count(
                    f"""
                    INSERT INTO quarantine
                    SELECT nextval('quarantine_id_seq'), CAST(? AS BIGINT), b.entity, b.entity_id,
                           CAST(b.payload AS {json_type}), b.reason, ?, CAST(? AS TIMESTAMPTZ)
                    FROM (SELECT DISTINCT * FROM _quarantine_batch) b
                    WHERE NOT EXISTS (
                        SELECT 1 FROM quarantine q
                        WHERE q.run_id = ? AND q.entity = b.entity
                          AND q.entity_id IS NOT DISTINCT FROM b.entity_id AND q.reason = b.reason
                          AND CAST(q.payload AS VARCHAR)
                              = CAST(CAST(b.payload AS {json_type}) AS VARCHAR))
                    """,  # noqa: S608 -- the dialect's type name only
                    [run_id, source, self._clock(), run_id],
                )
        finally:
            self._unregister("_quarantine_batch")
        return inserted

    def quarantine_issues(self, run_id: int, issues: Sequence[QualityIssue]) -> int:
        """Quarantine the *rejected* records of a quality report, the rule as reason."""
        source = self._writable_run(run_id)
        rejected = [
            (i.entity, i.entity_id, i.record, i.reason) for i in issues if i.severity.value == "reject"
        ]
        return self._quarantine_many(run_id, source, rejected)

    def quarantined(self, run_id: int | None = None) -> list[QuarantineRecord]:
        """Quarantined records, of one run or all."""
        where = "WHERE run_id = ?" if run_id is not None else ""
        columns = (
            "quarantine_id, run_id, entity, entity_id, CAST(payload AS VARCHAR), reason, source, created_at"
        )
        sql = f"SELECT {columns} FROM quarantine {where} ORDER BY quarantine_id"  # noqa: S608 -- fixed text
        rows = self.fetchall(sql, [run_id] if run_id is not None else [])
        return [
            QuarantineRecord(int(r[0]), int(r[1]), r[2], r[3], json.loads(r[4]), r[5], r[6], r[7])
            for r in rows
        ]

    # -- channels ------------------------------------------------------------------------------

    def upsert_channel(
        self, run_id: int, channel: Channel, *, fetched_at: datetime | None = None
    ) -> WriteResult:
        """Store one channel; see :meth:`upsert_channels`."""
        return self.upsert_channels(run_id, [channel], fetched_at=fetched_at)

    def upsert_channels(
        self,
        run_id: int,
        channels: Sequence[Channel],
        *,
        fetched_at: datetime | Sequence[datetime] | None = None,
    ) -> WriteResult:
        """Insert or refresh channel metadata; ``first_seen_run_id`` keeps the run that found it.

        ``fetched_at`` is one time for every channel, or one per channel (in their order).
        """
        source = self._writable_run(run_id)
        times = _fetch_times(fetched_at, len(channels), self._clock)
        latest = {c.channel_id: (c, at) for c, at in zip(channels, times, strict=True)}  # the last copy wins
        if not latest:
            return WriteResult()
        fetched = [at for _, at in latest.values()]
        latest_channels = {cid: c for cid, (c, _) in latest.items()}
        _require_aware("published_at", [c.published_at for c in latest_channels.values()])
        for channel in latest_channels.values():
            if channel.hidden_subscriber_count and channel.subscriber_count is not None:
                raise DataQualityError(
                    f"channel {channel.channel_id}: hidden subscriber count must be None, not "
                    f"{channel.subscriber_count}"
                )
        items = list(latest_channels.values())
        table = pa.table(
            {
                "channel_id": pa.array([c.channel_id for c in items], pa.string()),
                "title": pa.array([c.title for c in items], pa.string()),
                "handle": pa.array([c.handle for c in items], pa.string()),
                "description": pa.array([c.description for c in items], pa.string()),
                "published_at": pa.array([c.published_at for c in items], _TS),
                "country": pa.array([c.country for c in items], pa.string()),
                "default_language": pa.array([c.default_language for c in items], pa.string()),
                "uploads_playlist_id": pa.array([c.uploads_playlist_id for c in items], pa.string()),
                "subscriber_count": pa.array([c.subscriber_count for c in items], pa.int64()),
                "hidden_subscriber_count": pa.array([c.hidden_subscriber_count for c in items], pa.bool_()),
                "view_count": pa.array([c.view_count for c in items], pa.int64()),
                "video_count": pa.array([c.video_count for c in items], pa.int64()),
                "fetched_at": pa.array(fetched, _TS),
            }
        )
        self._register("_channel_batch", table)
        try:
            with self.transaction() as con:
                existing = con.rows(
                    "SELECT count(*) FROM channels"
                    " WHERE channel_id IN (SELECT channel_id FROM _channel_batch)"
                )[0]
                con.rows(
                    """
                    INSERT INTO channels
                    SELECT channel_id, title, handle, description, published_at, country,
                           default_language, uploads_playlist_id, subscriber_count,
                           hidden_subscriber_count, view_count, video_count, CAST(? AS BIGINT),
                           CAST(? AS BIGINT), ?, fetched_at
                    FROM _channel_batch
                    ON CONFLICT (channel_id) DO UPDATE SET
                        title = excluded.title, handle = excluded.handle,
                        description = excluded.description, published_at = excluded.published_at,
                        country = excluded.country, default_language = excluded.default_language,
                        uploads_playlist_id = excluded.uploads_playlist_id,
                        subscriber_count = excluded.subscriber_count,
                        hidden_subscriber_count = excluded.hidden_subscriber_count,
                        view_count = excluded.view_count, video_count = excluded.video_count,
                        run_id = excluded.run_id, source = excluded.source,
                        fetched_at = excluded.fetched_at
                    """,
                    [run_id, run_id, source],
                )
        finally:
            self._unregister("_channel_batch")
        updated = int(existing[0]) if existing else 0
        return WriteResult(inserted=len(items) - updated, updated=updated, skipped=len(channels) - len(items))

    def record_channel_snapshot(
        self, run_id: int, snapshot: ChannelSnapshot, *, fetched_at: datetime | None = None
    ) -> WriteResult:
        """Store one channel snapshot; see :meth:`record_channel_snapshots`."""
        return self.record_channel_snapshots(run_id, [snapshot], fetched_at=fetched_at)

    def record_channel_snapshots(
        self,
        run_id: int,
        snapshots: Sequence[ChannelSnapshot],
        *,
        fetched_at: datetime | Sequence[datetime] | None = None,
    ) -> WriteResult:
        """At most one snapshot per (channel, run): repeats inside the run are skipped.

        ``fetched_at`` is one time for every snapshot, or one per snapshot (in their order).
        """
        source = self._writable_run(run_id)
        times = _fetch_times(fetched_at, len(snapshots), self._clock)
        unique: dict[str, tuple[ChannelSnapshot, datetime]] = {}
        for snap, at in zip(snapshots, times, strict=True):
            unique.setdefault(snap.channel_id, (snap, at))
        if not unique:
            return WriteResult()
        items = [snap for snap, _ in unique.values()]
        fetched = [at for _, at in unique.values()]
        _require_aware("observed_at", [s.observed_at for s in items])
        table = pa.table(
            {
                "channel_id": pa.array([s.channel_id for s in items], pa.string()),
                "observed_at": pa.array([s.observed_at for s in items], _TS),
                "subscriber_count": pa.array([s.subscriber_count for s in items], pa.int64()),
                "view_count": pa.array([s.view_count for s in items], pa.int64()),
                "video_count": pa.array([s.video_count for s in items], pa.int64()),
                "fetched_at": pa.array(fetched, _TS),
            }
        )
        self._register("_channel_snapshot_batch", table)
        try:
            with self.transaction() as con:
                inserted = con.count(
                    """
                    INSERT INTO channel_snapshots (channel_id, run_id, observed_at, subscriber_count,
                        view_count, video_count, source, fetched_at, subscribers_hidden)
                    SELECT b.channel_id, CAST(? AS BIGINT), b.observed_at, b.subscriber_count, b.view_count,
                           b.video_count, ?, b.fetched_at, b.subscriber_count IS NULL
                    FROM _channel_snapshot_batch b
                    WHERE NOT EXISTS (SELECT 1 FROM channel_snapshots s
                                      WHERE s.run_id = ? AND s.channel_id = b.channel_id)
                    """,
                    [run_id, source, run_id],
                )
                if inserted:
                    con.rows(_MARK_KPIS_STALE.format(ids="SELECT channel_id FROM _channel_snapshot_batch"))
        finally:
            self._unregister("_channel_snapshot_batch")
        return WriteResult(inserted=inserted, skipped=len(snapshots) - inserted)

    # -- videos ----------------------------------------------------------------------------------

    def upsert_videos(
        self, run_id: int, videos: Sequence[Video], *, fetched_at: datetime | None = None
    ) -> WriteResult:
        """Insert or refresh video metadata. A tombstoned video seen again is restored (the
        restore is recorded in ``video_status_events``; its history was never removed)."""
        source = self._writable_run(run_id)
        latest = {v.video_id: v for v in videos}
        if not latest:
            return WriteResult()
        items = list(latest.values())
        _require_aware("published_at", [v.published_at for v in items])
        table = pa.table(
            {
                "video_id": pa.array([v.video_id for v in items], pa.string()),
                "channel_id": pa.array([v.channel_id for v in items], pa.string()),
                "title": pa.array([v.title for v in items], pa.string()),
                "description": pa.array([v.description for v in items], pa.string()),
                "published_at": pa.array([v.published_at for v in items], _TS),
                "duration_seconds": pa.array([v.duration_seconds for v in items], pa.int32()),
                "duration_raw": pa.array([v.duration_raw for v in items], pa.string()),
                "video_format": pa.array([VideoFormat(v.video_format).value for v in items], pa.string()),
                "tags": pa.array([list(v.tags) for v in items], pa.list_(pa.string())),
                "category_id": pa.array([v.category_id for v in items], pa.string()),
                "default_language": pa.array([v.default_language for v in items], pa.string()),
                "live_broadcast_content": pa.array([v.live_broadcast_content for v in items], pa.string()),
                "privacy_status": pa.array([v.privacy_status for v in items], pa.string()),
                **_live_columns(items),
            }
        )
        at = fetched_at or self._clock()
        self._register("_video_batch", table)
        try:
            with self.transaction() as con:
                existing = con.rows(
                    "SELECT count(*), count(*) FILTER (WHERE is_deleted) FROM videos"
                    " WHERE video_id IN (SELECT video_id FROM _video_batch)"
                )[0]
                if existing and existing[1]:
                    con.rows(
                        """
                        INSERT INTO video_status_events
                        SELECT v.video_id, CAST(? AS BIGINT), CAST(? AS TIMESTAMPTZ), 'restored',
                               'seen again by a collection run'
                        FROM videos v WHERE v.video_id IN (SELECT video_id FROM _video_batch)
                          AND v.is_deleted
                        """,
                        [run_id, at],
                    )
                # A plain insert costs DuckDB far less than an upsert; a first crawl is all new.
                conflict = _VIDEO_UPSERT if existing and existing[0] else ""
                con.rows(_VIDEO_INSERT + conflict, [run_id, run_id, source, at])
                # New videos and publication times change uploads_90d.
                con.rows(_MARK_KPIS_STALE.format(ids="SELECT channel_id FROM _video_batch"))
        finally:
            self._unregister("_video_batch")
        updated = int(existing[0]) if existing else 0
        return WriteResult(inserted=len(items) - updated, updated=updated, skipped=len(videos) - len(items))

    def record_video_snapshots(
        self,
        run_id: int,
        snapshots: Sequence[VideoSnapshot],
        *,
        fetched_at: datetime | None = None,
        stored_video_ids: Collection[str] = (),
    ) -> WriteResult:
        """Store view/like/comment counts; at most one snapshot per (video, run).

        A snapshot of a video this warehouse has no metadata for is quarantined (call
        :meth:`upsert_videos` first); a second snapshot of a video within one batch too.
        ``stored_video_ids`` are videos the caller upserted in the same transaction: when they
        cover every snapshot, the lookup for unknown videos is skipped, and so is marking their
        channels' KPIs stale (:meth:`upsert_videos` marked them).
        """
        source = self._writable_run(run_id)
        unique: dict[str, VideoSnapshot] = {}
        duplicates: list[tuple[str, str | None, Any, str]] = []
        for snap in snapshots:
            if snap.video_id in unique:
                duplicates.append(
                    ("video_snapshot", snap.video_id, snap, "duplicate_in_batch: second snapshot of a video")
                )
            else:
                unique[snap.video_id] = snap
        if not unique:
            return WriteResult()
        items = list(unique.values())
        _require_aware("observed_at", [s.observed_at for s in items])
        table = pa.table(
            {
                "video_id": pa.array([s.video_id for s in items], pa.string()),
                "observed_at": pa.array([s.observed_at for s in items], _TS),
                "view_count": pa.array([s.view_count for s in items], pa.int64()),
                "like_count": pa.array([s.like_count for s in items], pa.int64()),
                "comment_count": pa.array([s.comment_count for s in items], pa.int64()),
            }
        )
        at = fetched_at or self._clock()
        self._register("_video_snapshot_batch", table)
        try:
            # Videos upserted in this transaction: known, and their channels already marked stale.
            covered = bool(stored_video_ids) and all(vid in stored_video_ids for vid in unique)
            with self.transaction() as con:
                unknown = (
                    []
                    if covered
                    else [
                        r[0]
                        for r in con.rows(
                            "SELECT b.video_id FROM _video_snapshot_batch b"
                            " WHERE NOT EXISTS (SELECT 1 FROM videos v WHERE v.video_id = b.video_id)"
                        )
                    ]
                )
                inserted = con.count(
                    """
                    INSERT INTO video_snapshots (video_id, channel_id, run_id, observed_at, view_count,
                        like_count, comment_count, source, fetched_at, likes_hidden, comments_hidden)
                    SELECT b.video_id, v.channel_id, CAST(? AS BIGINT), b.observed_at, b.view_count,
                           b.like_count, b.comment_count, ?, CAST(? AS TIMESTAMPTZ), b.like_count IS NULL,
                           b.comment_count IS NULL
                    FROM _video_snapshot_batch b JOIN videos v USING (video_id)
                    WHERE NOT EXISTS (SELECT 1 FROM video_snapshots s
                                      WHERE s.run_id = ? AND s.video_id = b.video_id)
                    """,
                    [run_id, source, at, run_id],
                )
                # Refresh the denormalised latest counts from what this run stored, so a skipped
                # retry with different numbers cannot overwrite them.
                con.rows(
                    """
                    UPDATE videos SET latest_observed_at = s.observed_at,
                        latest_view_count = s.view_count, latest_like_count = s.like_count,
                        latest_comment_count = s.comment_count
                    FROM (SELECT s.* FROM video_snapshots s WHERE s.run_id = ?
                          AND s.video_id IN (SELECT video_id FROM _video_snapshot_batch)) AS s
                    WHERE videos.video_id = s.video_id
                      AND (videos.latest_observed_at IS NULL
                           OR s.observed_at >= videos.latest_observed_at)
                    """,
                    [run_id],
                )
                if inserted and not covered:
                    ids = "SELECT v.channel_id FROM _video_snapshot_batch b JOIN videos v USING (video_id)"
                    con.rows(_MARK_KPIS_STALE.format(ids=ids))
                rejected = duplicates + [
                    (
                        "video_snapshot",
                        vid,
                        unique[vid],
                        "unknown_video: no stored metadata for this video (upsert_videos first)",
                    )
                    for vid in unknown
                ]
                quarantined = self._quarantine_many(run_id, source, rejected)
        finally:
            self._unregister("_video_snapshot_batch")
        return WriteResult(
            inserted=inserted,
            skipped=len(items) - inserted - len(unknown),
            quarantined=quarantined,
        )

    def load_checked_video_snapshots(
        self,
        run_id: int,
        snapshots: Sequence[VideoSnapshot],
        *,
        rules: QualityRules = DEFAULT_RULES,
        now: datetime | None = None,
        fetched_at: datetime | None = None,
    ) -> QualityReport[VideoSnapshot]:
        """Check against each video's latest stored snapshot, store the accepted ones and
        quarantine the rejected ones, all in one transaction."""
        ids = sorted({s.video_id for s in snapshots})
        previous = self.latest_video_snapshots(ids)
        formats = self._video_formats(ids)
        report = check_video_snapshots(
            snapshots, previous=previous, now=now or self._clock(), formats=formats, rules=rules
        )
        with self.transaction():
            self.record_video_snapshots(run_id, report.accepted, fetched_at=fetched_at)
            self.quarantine_issues(run_id, report.issues)
        return report

    def mark_deleted(self, run_id: int, video_ids: Sequence[str], at: datetime, reason: str) -> WriteResult:
        """Tombstone videos that became deleted or private; their snapshots stay.

        Already tombstoned videos keep their first deletion (``skipped``); ids never stored are
        quarantined, since there is no history to keep for them.
        """
        source = self._writable_run(run_id)
        _require_aware("at", [at])
        ids = sorted(set(video_ids))
        if not ids:
            return WriteResult()
        table = pa.table({"video_id": pa.array(ids, pa.string())})
        self._register("_deleted_batch", table)
        try:
            with self.transaction() as con:
                unknown = [
                    r[0]
                    for r in con.rows(
                        "SELECT b.video_id FROM _deleted_batch b"
                        " WHERE NOT EXISTS (SELECT 1 FROM videos v WHERE v.video_id = b.video_id)"
                    )
                ]
                con.rows(
                    """
                    INSERT INTO video_status_events
                    SELECT v.video_id, CAST(? AS BIGINT), CAST(? AS TIMESTAMPTZ), 'deleted', ?
                    FROM videos v WHERE v.video_id IN (SELECT video_id FROM _deleted_batch)
                      AND NOT v.is_deleted
                    """,
                    [run_id, at, reason],
                )
                updated = con.count(
                    """
                    UPDATE videos SET is_deleted = true, deleted_at = ?, deleted_reason = ?,
                        deleted_run_id = ?
                    WHERE video_id IN (SELECT video_id FROM _deleted_batch) AND NOT is_deleted
                    """,
                    [at, reason, run_id],
                )
                quarantined = self._quarantine_many(
                    run_id,
                    source,
                    [
                        (
                            "video_tombstone",
                            vid,
                            {"video_id": vid, "at": at, "reason": reason},
                            "unknown_video: tombstone for a video never stored",
                        )
                        for vid in unknown
                    ],
                )
        finally:
            self._unregister("_deleted_batch")
        return WriteResult(
            updated=updated, skipped=len(ids) - updated - len(unknown), quarantined=quarantined
        )

    # -- comments --------------------------------------------------------------------------------

    def add_comments(
        self, run_id: int, comments: Sequence[Comment], *, fetched_at: datetime | None = None
    ) -> WriteResult:
        """Insert comments, refreshing ones already stored (idempotent by ``comment_id``).

        Comments on videos the warehouse does not know are quarantined.
        """
        source = self._writable_run(run_id)
        latest = {c.comment_id: c for c in comments}
        if not latest:
            return WriteResult()
        items = list(latest.values())
        _require_aware("published_at", [c.published_at for c in items])
        _require_aware("updated_at", [c.updated_at for c in items])
        table = pa.table(
            {
                "comment_id": pa.array([c.comment_id for c in items], pa.string()),
                "video_id": pa.array([c.video_id for c in items], pa.string()),
                "parent_id": pa.array([c.parent_id for c in items], pa.string()),
                "author": pa.array([c.author for c in items], pa.string()),
                "text": pa.array([c.text for c in items], pa.string()),
                "like_count": pa.array([c.like_count for c in items], pa.int64()),
                "published_at": pa.array([c.published_at for c in items], _TS),
                "updated_at": pa.array([c.updated_at for c in items], _TS),
                "reply_count": pa.array([c.reply_count for c in items], pa.int64()),
                "extra": pa.array([json.dumps(c.extra, sort_keys=True) for c in items], pa.string()),
            }
        )
        at = fetched_at or self._clock()
        self._register("_comment_batch", table)
        try:
            with self.transaction() as con:
                unknown = {
                    r[0]
                    for r in con.rows(
                        "SELECT b.comment_id FROM _comment_batch b"
                        " WHERE NOT EXISTS (SELECT 1 FROM videos v WHERE v.video_id = b.video_id)"
                    )
                }
                existing = con.rows(
                    "SELECT count(*) FROM comments"
                    " WHERE comment_id IN (SELECT comment_id FROM _comment_batch)"
                )[0]
                con.rows(
                    f"""
                    INSERT INTO comments
                    SELECT b.comment_id, b.video_id, b.parent_id, b.author, b.text, b.like_count,
                           b.published_at, b.updated_at, b.reply_count,
                           CAST(b.extra AS {self._dialect.json_type}), CAST(? AS BIGINT), ?,
                           CAST(? AS TIMESTAMPTZ)
                    FROM _comment_batch b
                    WHERE b.video_id IN (SELECT video_id FROM videos)
                    ON CONFLICT (comment_id) DO UPDATE SET
                        text = excluded.text, like_count = excluded.like_count,
                        updated_at = excluded.updated_at, reply_count = excluded.reply_count,
                        extra = excluded.extra, run_id = excluded.run_id,
                        source = excluded.source, fetched_at = excluded.fetched_at
                    """,  # noqa: S608 -- the dialect's type name only
                    [run_id, source, at],
                )
                quarantined = self._quarantine_many(
                    run_id,
                    source,
                    [
                        ("comment", c.comment_id, c, "unknown_video: comment on a video never stored")
                        for c in items
                        if c.comment_id in unknown
                    ],
                )
        finally:
            self._unregister("_comment_batch")
        updated = int(existing[0]) if existing else 0
        return WriteResult(
            inserted=len(items) - updated - len(unknown),
            updated=updated,
            skipped=len(comments) - len(items),
            quarantined=quarantined,
        )

    # -- checkpoints and incremental state ---------------------------------------------------------

    def save_checkpoint(
        self,
        run_id: int,
        channel_id: str,
        *,
        page_token: str | None,
        done_video_ids: Sequence[str] = (),
        channel_done: bool = False,
        pages_done: int | None = None,
    ) -> Checkpoint:
        """Record how far ``run_id`` got with ``channel_id`` (video ids accumulate); returns it."""
        self.record_checkpoint(
            run_id,
            channel_id,
            page_token=page_token,
            done_video_ids=done_video_ids,
            channel_done=channel_done,
            pages_done=pages_done,
        )
        checkpoint = self.load_checkpoint(run_id, channel_id)
        assert checkpoint is not None
        return checkpoint

    def record_checkpoint(
        self,
        run_id: int,
        channel_id: str,
        *,
        page_token: str | None,
        done_video_ids: Sequence[str] = (),
        channel_done: bool = False,
        pages_done: int | None = None,
    ) -> None:
        """:meth:`save_checkpoint` without reading the checkpoint back.

        ``pages_done`` None keeps the stored count (0 for a new checkpoint). Reading back costs two
        queries and every done video id of the channel (thousands), which the collector's end of
        a channel and its comment batches do not need.
        """
        self._writable_run(run_id)
        now = self._clock()
        ids = sorted(set(done_video_ids))
        with self.transaction() as con:
            con.rows(
                """
                INSERT INTO collection_checkpoints VALUES (?, ?, ?, coalesce(?, 0), ?, ?)
                ON CONFLICT (run_id, channel_id) DO UPDATE SET
                    page_token = excluded.page_token,
                    pages_done = coalesce(?, collection_checkpoints.pages_done),
                    channel_done = excluded.channel_done, updated_at = excluded.updated_at
                """,
                [run_id, channel_id, page_token, pages_done, channel_done, now, pages_done],
            )
            if ids:
                self._register("_done_batch", pa.table({"video_id": pa.array(ids, pa.string())}))
                try:
                    con.rows(
                        """
                        INSERT INTO checkpoint_videos_done
                        SELECT ?, ?, b.video_id FROM _done_batch b
                        WHERE NOT EXISTS (SELECT 1 FROM checkpoint_videos_done d WHERE d.run_id = ?
                                          AND d.channel_id = ? AND d.video_id = b.video_id)
                        """,
                        [run_id, channel_id, run_id, channel_id],
                    )
                finally:
                    self._unregister("_done_batch")

    def record_checkpoints(
        self,
        run_id: int,
        positions: Mapping[str, tuple[str | None, int] | None],
        done_video_ids: Mapping[str, Sequence[str]],
    ) -> None:
        """Move several channels' checkpoints at once (the collector's group commit).

        ``positions`` maps a channel to its new ``(page_token, pages_done)``, or to None to leave
        its position where it is (a new checkpoint starts at the beginning); ``done_video_ids``
        accumulate per channel as in :meth:`save_checkpoint`. Nothing is read back.
        """
        self._writable_run(run_id)
        now = self._clock()
        moving = {cid: pos for cid, pos in positions.items() if pos is not None}
        staying = [cid for cid, pos in positions.items() if pos is None]
        done = sorted({(cid, vid) for cid, ids in done_video_ids.items() for vid in ids})
        with self.transaction() as con:
            if moving:
                self._register(
                    "_checkpoint_batch",
                    pa.table(
                        {
                            "channel_id": pa.array(list(moving), pa.string()),
                            "page_token": pa.array([p[0] for p in moving.values()], pa.string()),
                            "pages_done": pa.array([p[1] for p in moving.values()], pa.int32()),
                        }
                    ),
                )
                try:
                    con.rows(
                        """
                        INSERT INTO collection_checkpoints
                        SELECT ?, channel_id, page_token, pages_done, false, ? FROM _checkpoint_batch
                        ON CONFLICT (run_id, channel_id) DO UPDATE SET
                            page_token = excluded.page_token, pages_done = excluded.pages_done,
                            channel_done = false, updated_at = excluded.updated_at
                        """,
                        [run_id, now],
                    )
                finally:
                    self._unregister("_checkpoint_batch")
            if staying:
                con.rows(
                    """
                    INSERT INTO collection_checkpoints
                    SELECT ?, unnest(CAST(? AS VARCHAR[])), NULL, 0, false, ?
                    ON CONFLICT (run_id, channel_id) DO UPDATE SET
                        channel_done = false, updated_at = excluded.updated_at
                    """,
                    [run_id, staying, now],
                )
            if done:
                self._register(
                    "_done_batch",
                    pa.table(
                        {
                            "channel_id": pa.array([d[0] for d in done], pa.string()),
                            "video_id": pa.array([d[1] for d in done], pa.string()),
                        }
                    ),
                )
                try:
                    con.rows(
                        """
                        INSERT INTO checkpoint_videos_done
                        SELECT ?, b.channel_id, b.video_id FROM _done_batch b
                        WHERE NOT EXISTS (SELECT 1 FROM checkpoint_videos_done d WHERE d.run_id = ?
                                          AND d.channel_id = b.channel_id AND d.video_id = b.video_id)
                        """,
                        [run_id, run_id],
                    )
                finally:
                    self._unregister("_done_batch")

    def load_checkpoint(self, run_id: int, channel_id: str) -> Checkpoint | None:
        """Where run ``run_id`` left the walk of ``channel_id``, or None."""
        return self.run_checkpoints(run_id, channel_id=channel_id).get(channel_id)

    def run_checkpoints(
        self, run_id: int, *, channel_id: str | None = None, channel_ids: Sequence[str] | None = None
    ) -> dict[str, Checkpoint]:
        """Every channel checkpoint of a run, by channel id (only ``channel_id``'s, or only those
        of ``channel_ids``, when given)."""
        wanted = [channel_id] if channel_id is not None else list(channel_ids or [])
        extra = ""
        if channel_id is not None or channel_ids is not None:
            if not wanted:
                return {}
            extra = f" AND channel_id IN ({', '.join('?' for _ in wanted)})"
        params: list[Any] = [run_id, *wanted]
        columns = "channel_id, page_token, pages_done, channel_done, updated_at"
        sql = f"SELECT {columns} FROM collection_checkpoints WHERE run_id = ?{extra}"  # noqa: S608
        rows = self.fetchall(sql, params)
        done: dict[str, set[str]] = {}
        for cid, vid in self.fetchall(
            f"SELECT channel_id, video_id FROM checkpoint_videos_done WHERE run_id = ?{extra}",  # noqa: S608
            params,
        ):
            done.setdefault(cid, set()).add(vid)
        return {
            r[0]: Checkpoint(run_id, r[0], r[1], int(r[2]), bool(r[3]), frozenset(done.get(r[0], ())), r[4])
            for r in rows
        }

    def incremental_state(self, channel_id: str) -> IncrementalState | None:
        """The channel's incremental-crawl state, or None before its first crawl."""
        row = self.fetchone(
            "SELECT channel_id, newest_video_id, newest_published_at, last_full_crawl_at,"
            " last_full_crawl_run_id, last_run_id, updated_at FROM channel_state WHERE channel_id = ?",
            [channel_id],
        )
        if row is None:
            return None
        return IncrementalState(
            row[0], row[1], row[2], row[3], int(row[4]) if row[4] is not None else None, int(row[5]), row[6]
        )

    def update_incremental_state(
        self,
        run_id: int,
        channel_id: str,
        *,
        newest_video_id: str | None,
        newest_published_at: datetime | None,
        full_crawl: bool = False,
        at: datetime | None = None,
    ) -> IncrementalState:
        """Advance a channel's incremental state; the newest known upload never moves backwards."""
        self._writable_run(run_id)
        _require_aware("newest_published_at", [newest_published_at])
        now = at or self._clock()
        with self.transaction() as con:
            current = self.incremental_state(channel_id)
            newest_id, newest_at = newest_video_id, newest_published_at
            if (
                current is not None
                and current.newest_published_at is not None
                and (newest_at is None or newest_at < current.newest_published_at)
            ):
                newest_id, newest_at = current.newest_video_id, current.newest_published_at
            full_at = now if full_crawl else (current.last_full_crawl_at if current else None)
            full_run = run_id if full_crawl else (current.last_full_crawl_run_id if current else None)
            con.rows(
                "INSERT INTO channel_state VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel_id) DO UPDATE SET"
                " newest_video_id = excluded.newest_video_id,"
                " newest_published_at = excluded.newest_published_at,"
                " last_full_crawl_at = excluded.last_full_crawl_at,"
                " last_full_crawl_run_id = excluded.last_full_crawl_run_id,"
                " last_run_id = excluded.last_run_id, updated_at = excluded.updated_at",
                [channel_id, newest_id, newest_at, full_at, full_run, run_id, now],
            )
        state = self.incremental_state(channel_id)
        assert state is not None
        return state

    # -- reads -------------------------------------------------------------------------------------

    def known_video_ids(self, channel_id: str, *, include_deleted: bool = True) -> frozenset[str]:
        """Ids of the channel's stored videos (deleted ones too unless told otherwise)."""
        extra = "" if include_deleted else " AND NOT is_deleted"
        rows = self.fetchall(
            f"SELECT video_id FROM videos WHERE channel_id = ?{extra}",  # noqa: S608 -- fixed fragment
            [channel_id],
        )
        return frozenset(r[0] for r in rows)

    def _video_formats(self, video_ids: Sequence[str]) -> dict[str, VideoFormat]:
        if not video_ids:
            return {}
        rows = self.fetchall(
            "SELECT video_id, video_format FROM videos"
            " WHERE video_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
            [list(video_ids)],
        )
        return {r[0]: VideoFormat(r[1]) for r in rows}

    def latest_video_snapshots(self, video_ids: Sequence[str]) -> dict[str, VideoSnapshot]:
        """Each listed video's most recent stored snapshot (what quality checks compare with)."""
        if not video_ids:
            return {}
        rows = self.fetchall(
            "SELECT video_id, latest_observed_at, latest_view_count, latest_like_count, latest_comment_count"
            " FROM videos WHERE video_id IN (SELECT unnest(CAST(? AS VARCHAR[])))"
            " AND latest_observed_at IS NOT NULL",
            [list(video_ids)],
        )
        return {r[0]: VideoSnapshot(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows}

    def latest_channel_snapshots(self, channel_ids: Sequence[str]) -> dict[str, ChannelSnapshot]:
        """The latest snapshot of each channel in ``channel_ids`` that has one."""
        if not channel_ids:
            return {}
        rows = self.fetchall(
            self._dialect.latest_channel_snapshots,
            [list(channel_ids)],
        )
        return {r[0]: ChannelSnapshot(r[0], r[1], r[2], int(r[3]), int(r[4])) for r in rows}

    def load_frames(
        self, channel_ids: Sequence[str] | None = None, since: datetime | None = None
    ) -> dict[str, pd.DataFrame]:
        """Frames keyed ``channels``, ``videos``, ``video_snapshots``, ``channel_snapshots``.

        Columns as :mod:`tubescope.domain.frames` documents (plus lineage extras). ``since``
        limits the two snapshot frames to observations at or after it; video counts in
        ``videos`` are always the latest observed. Rows are sorted: channels by id, videos by
        channel and publication, snapshots by channel, video (or channel) and time.

        For fleet-wide KPIs over millions of snapshots prefer :meth:`query` (aggregate in
        DuckDB) or :meth:`iter_video_snapshots`; a full frame costs about 85 MB per million
        snapshot rows.
        """
        if isinstance(channel_ids, str):
            raise ConfigError("channel_ids must be a sequence of ids, not one string")
        if since is not None:
            _require_aware("since", [since])
        ids = list(channel_ids) if channel_ids is not None else None
        plain, plain_params = frame_sql.where_clause(ids, None, time_column=None)
        timed, timed_params = frame_sql.where_clause(ids, since, time_column="observed_at")
        queries = {
            "channels": (frame_sql.CHANNELS_SQL.format(where=plain), plain_params),
            "videos": (frame_sql.videos_sql(self._dialect, plain), plain_params),
            "video_snapshots": (frame_sql.VIDEO_SNAPSHOTS_SQL.format(where=timed), timed_params),
            "channel_snapshots": (frame_sql.CHANNEL_SNAPSHOTS_SQL.format(where=timed), timed_params),
        }
        result: dict[str, pd.DataFrame] = {}
        for name, (sql, params) in queries.items():
            table = self._fetch_arrow_streamed(sql, params)
            if name in frame_sql.SNAPSHOT_ORDER:
                table = self._with_archived(name, table, ids, since)
            result[name] = frame_sql.arrow_to_frame(table, frame_sql.CONTRACT_COLUMNS[name])
        return result

    def _with_archived(
        self, name: str, hot: pa.Table, channel_ids: Sequence[str] | None, since: datetime | None
    ) -> pa.Table:
        """``hot`` plus the rows of ``name`` in the cold archive, in the frame's order."""
        from tubescope.warehouse.archive import read_cold  # the archive module imports this one

        cold = read_cold(self, name, hot.schema.names, channel_ids=channel_ids, since=since)
        if cold is None or cold.num_rows == 0:
            return hot
        merged = pa.concat_tables([hot, cold.cast(hot.schema)])
        return merged.sort_by([(column, "ascending") for column in frame_sql.SNAPSHOT_ORDER[name]])

    def _fetch_arrow_streamed(self, sql: str, params: Sequence[Any]) -> pa.Table:
        """Arrow via a record-batch stream: DuckDB never materialises the whole result itself,
        so peak memory is the Arrow table plus DuckDB's (capped) working memory."""
        backend = self._live
        try:
            batches = list(backend.arrow_batches(sql, params, 1_000_000))
            if not batches:
                return backend.arrow(sql, params)  # typed, empty
            return pa.Table.from_batches(batches)
        except backend.errors as exc:
            raise StorageError(f"query failed: {redact_url(str(exc))}") from None

    def iter_video_snapshots(
        self,
        channel_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        *,
        batch_rows: int = 1_000_000,
    ) -> Iterator[pd.DataFrame]:
        """The ``video_snapshots`` frame in chunks, for scans that need not hold it all.

        The hot rows come first (in the frame's order), then any rows in the cold archive.
        Do not run other queries on this warehouse until the iterator is exhausted.
        """
        from tubescope.warehouse.archive import read_cold  # the archive module imports this one

        ids = list(channel_ids) if channel_ids is not None else None
        where, params = frame_sql.where_clause(ids, since, time_column="observed_at")
        sql = frame_sql.VIDEO_SNAPSHOTS_SQL.format(where=where)
        columns = frame_sql.CONTRACT_COLUMNS["video_snapshots"]
        schema: pa.Schema | None = None
        for batch in self._live.arrow_batches(sql, params, batch_rows):
            schema = batch.schema
            yield frame_sql.arrow_to_frame(pa.Table.from_batches([batch]), columns)
        cold = read_cold(self, "video_snapshots", list(columns), channel_ids=ids, since=since)
        if cold is not None:
            for batch in cold.to_batches(batch_rows):
                table = pa.Table.from_batches([batch])
                yield frame_sql.arrow_to_frame(table.cast(schema) if schema else table, columns)

    # -- retention ---------------------------------------------------------------------------------

    def prune_snapshots(
        self, older_than_days: int | None, *, now: datetime | None = None, keep_latest: bool = True
    ) -> PruneResult | None:
        """Delete statistics observed more than ``older_than_days`` ago (``None``: keep forever).

        Runs, metadata, tombstones and the quarantine stay; with ``keep_latest`` each video's and
        channel's most recent snapshot survives so its latest numbers remain traceable. The prune
        itself is logged in ``retention_log``.
        """
        if older_than_days is None:
            return None
        if older_than_days < 1:
            raise ConfigError(f"retention must be at least 1 day, got {older_than_days}")
        at = now or self._clock()
        cutoff = at - timedelta(days=older_than_days)
        deleted: dict[str, int] = {}
        with self.transaction() as con:
            for table, key in (("video_snapshots", "video_id"), ("channel_snapshots", "channel_id")):
                keep = self._dialect.prune_keep_latest.format(table=table, key=key) if keep_latest else ""
                # The channels whose 28-day starts (or, without keep_latest, latest counts) go.
                con.rows(
                    _MARK_KPIS_STALE.format(
                        ids=f"SELECT channel_id FROM {table} WHERE observed_at < ? {keep}"  # noqa: S608
                    ),
                    [cutoff],
                )
                deleted[table] = con.count(
                    f"DELETE FROM {table} WHERE observed_at < ? {keep}",  # noqa: S608 -- fixed names
                    [cutoff],
                )
            con.rows(
                "INSERT INTO retention_log VALUES (nextval('prune_id_seq'), ?, ?, ?, ?, ?)",
                [at, older_than_days, cutoff, deleted["video_snapshots"], deleted["channel_snapshots"]],
            )
        return PruneResult(cutoff, deleted["video_snapshots"], deleted["channel_snapshots"])
