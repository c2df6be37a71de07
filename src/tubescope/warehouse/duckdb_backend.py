"""The embedded backend: one DuckDB file (opening it lives in :mod:`tubescope.warehouse.db`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tubescope.errors import StorageError
from tubescope.warehouse.backend import Dialect, Params

DIALECT = Dialect(
    name="duckdb",
    json_type="JSON",
    latest_channel_snapshots="""
        SELECT channel_id, s.obs, s.subs, s.views, s.videos FROM (
            SELECT channel_id, arg_max(struct_pack(obs := observed_at, subs := subscriber_count,
                   views := view_count, videos := video_count), observed_at) AS s
            FROM channel_snapshots WHERE channel_id IN (SELECT unnest(CAST(? AS VARCHAR[])))
            GROUP BY channel_id)
    """,
    prune_keep_latest="AND rowid NOT IN (SELECT arg_max(rowid, observed_at) FROM {table} GROUP BY {key})",
    tag_count="CAST(len(tags) AS BIGINT)",
    lock_shared="",
    lock_update="",
)


class DuckDbBackend:
    """A :class:`~tubescope.warehouse.backend.Backend` over one DuckDB connection (or cursor)."""

    name = "duckdb"
    dialect = DIALECT
    errors: tuple[type[Exception], ...] = (duckdb.Error,)
    # "Conflict on update": another connection to the same database wrote the row first
    conflicts: tuple[type[Exception], ...] = (duckdb.TransactionException,)

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        *,
        reopen: Callable[[], duckdb.DuckDBPyConnection] | None = None,
    ) -> None:
        self._con: duckdb.DuckDBPyConnection | None = con
        self.target = path
        self.reopen = reopen
        """Set for a leased warehouse: how to take the file back after :meth:`release`."""

    @property
    def leased(self) -> bool:
        """Whether this backend may let go of its file between uses."""
        return self.reopen is not None

    @property
    def is_open(self) -> bool:
        """Whether the file is held right now."""
        return self._con is not None

    def release(self) -> None:
        """Let go of the file (a leased backend takes it back on its next use)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The open DuckDB connection, reopened after a :meth:`release` (a closed backend says so)."""
        if self._con is None:
            if self.reopen is None:
                raise StorageError(f"warehouse {self.target} is closed")
            self._con = self.reopen()
        return self._con

    def idle(self) -> duckdb.DuckDBPyConnection:
        """The connection with any partly fetched result closed: DuckDB refuses relations and
        registrations while one is pending (callers may have left one via ``connection()``)."""
        con = self.connection
        con.complete()
        return con

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Execute and drain: DuckDB refuses further work while a result is left unfetched."""
        return self.connection.execute(sql, params).fetchall()

    def count(self, sql: str, params: Params = None) -> int:
        """DuckDB answers an INSERT/UPDATE/DELETE with one row: the number of rows changed."""
        row = self.connection.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        """The result as Arrow, aggregated in DuckDB."""
        return self.idle().sql(sql, params=params).to_arrow_table()

    def arrow_batches(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """A record-batch stream: DuckDB never materialises the whole result itself."""
        reader = self.idle().sql(sql, params=params).to_arrow_reader(batch_rows)
        yield from reader

    def stage(self, name: str, table: pa.Table) -> None:
        """Register the Arrow table as a view (no copy)."""
        self.idle().register(name, table)

    def unstage(self, name: str) -> None:
        """Unregister the view."""
        self.idle().unregister(name)

    def begin(self) -> None:
        """BEGIN TRANSACTION."""
        self.rows("BEGIN TRANSACTION")

    def commit(self) -> None:
        """COMMIT."""
        self.rows("COMMIT")

    def rollback(self) -> None:
        """ROLLBACK."""
        self.rows("ROLLBACK")

    def close(self) -> None:
        """Close the connection (or cursor) for good."""
        self.reopen = None
        if self._con is not None:
            self._con.close()
            self._con = None
