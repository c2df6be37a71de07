"""The team backend: PostgreSQL through psycopg 3, one connection pool per database per process.

A :class:`PostgresBackend` holds one pooled connection for the life of its ``Warehouse`` (a
warehouse is used from one thread, as with DuckDB); statements run in autocommit unless the
repository begins a transaction. Statements arrive with DuckDB's placeholders (``?`` and
``$name``) and are translated once to psycopg's (:func:`pyformat`); Arrow tables are staged as
temporary tables filled by ``COPY``. Migrations run once per database, under a PostgreSQL
advisory lock, so replicas that start together never migrate twice.

Nothing here prints or raises the connection URL with its password: errors name
:attr:`~tubescope.warehouse.target.PostgresTarget.display`.
"""

from __future__ import annotations

import atexit
import functools
import threading
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import pq, sql
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolTimeout

from tubescope.errors import StorageError
from tubescope.warehouse import migrations
from tubescope.warehouse.backend import Dialect, Params
from tubescope.warehouse.target import DEFAULT_POOL_SIZE, PostgresTarget, redact_url

DIALECT = Dialect(
    name="postgresql",
    json_type="JSONB",
    latest_channel_snapshots="""
        SELECT DISTINCT ON (channel_id) channel_id, observed_at, subscriber_count, view_count, video_count
        FROM channel_snapshots WHERE channel_id IN (SELECT unnest(CAST(? AS VARCHAR[])))
        ORDER BY channel_id, observed_at DESC
    """,
    prune_keep_latest=(
        "AND ctid NOT IN (SELECT DISTINCT ON ({key}) ctid FROM {table} ORDER BY {key}, observed_at DESC)"
    ),
    tag_count="CAST(cardinality(tags) AS BIGINT)",
    lock_shared=" FOR SHARE",
    lock_update=" FOR UPDATE",
)

MIGRATION_LOCK_KEY = 0x7475_6265_7363_6F70
"""Advisory lock key ("tubescop") held by the session that checks and migrates the schema."""
CONNECT_TIMEOUT_S = 10

_TS = pa.timestamp("us", tz="UTC")
# Result column types by PostgreSQL type OID; anything else arrives as text.
_ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    26: pa.int64(),
    700: pa.float32(),
    701: pa.float64(),
    1700: pa.float64(),
    1184: _TS,
    1114: pa.timestamp("us"),
    1082: pa.date32(),
    1000: pa.list_(pa.bool_()),
    1007: pa.list_(pa.int32()),
    1016: pa.list_(pa.int64()),
    1009: pa.list_(pa.string()),
    1015: pa.list_(pa.string()),
}
# Staged Arrow columns as PostgreSQL types.
_PG_TYPES: dict[pa.DataType, str] = {
    pa.string(): "text",
    pa.large_string(): "text",
    pa.int64(): "bigint",
    pa.int32(): "integer",
    pa.int16(): "smallint",
    pa.bool_(): "boolean",
    pa.float64(): "float8",
    pa.list_(pa.string()): "text[]",
}


@functools.lru_cache(maxsize=2048)
def pyformat(text: str) -> str:
    """DuckDB placeholders to psycopg's: ``?`` → ``%s``, ``$name`` → ``%(name)s``, ``%`` → ``%%``.

    Quoted strings, quoted identifiers and ``--`` comments are copied untouched.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            end = text.find(ch, i + 1)
            end = n - 1 if end < 0 else end
            out.append(text[i : end + 1].replace("%", "%%"))
            i = end + 1
            continue
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[i:end].replace("%", "%%"))
            i = end
            continue
        if ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        elif ch == "$" and i + 1 < n and (text[i + 1].isalpha() or text[i + 1] == "_"):
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(f"%({text[i + 1 : j]})s")
            i = j
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Each pooled connection: UTC session time and JSON columns read as their text."""
    conn.execute("SET TimeZone = 'UTC'")
    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, TextLoader)


def _redacted(exc: BaseException) -> str:
    return redact_url(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


_pools: dict[str, ConnectionPool[psycopg.Connection[Any]]] = {}
_pools_lock = threading.Lock()
_current: set[str] = set()
"""Databases this process found at the latest schema (no need to look again on each open)."""


def _pool(target: PostgresTarget, max_size: int) -> ConnectionPool[psycopg.Connection[Any]]:
    """This process's pool for ``target`` (made on first use, after one test connection, with at
    most ``max_size`` connections; later opens share it as it is)."""
    with _pools_lock:
        found = _pools.get(target.url)
        if found is not None:
            return found
        try:  # fail fast and clearly when the server is absent, rather than after a pool timeout
            psycopg.connect(target.url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to {target.display}: {_redacted(exc)}") from None
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            target.url,
            min_size=1,
            max_size=max_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=_configure,
            open=False,
            name="tubescope-warehouse",
        )
        pool.open()
        _pools[target.url] = pool
        return pool


def close_pools(target: PostgresTarget | None = None) -> None:
    """Close this process's pool for ``target`` (or every pool); the next open makes a new one."""
    with _pools_lock:
        urls = [target.url] if target is not None else list(_pools)
        closing = [_pools.pop(url) for url in urls if url in _pools]
        _current.difference_update(urls)
    for pool in closing:
        pool.close()


atexit.register(close_pools)


def _column(values: list[Any], kind: pa.DataType) -> pa.Array:
    if kind == pa.float64() and any(isinstance(v, Decimal) for v in values):
        values = [float(v) if v is not None else None for v in values]
    return pa.array(values, type=kind)


def _arrow_type(oid: int) -> pa.DataType:
    return _ARROW_TYPES.get(oid, pa.string())


def _to_arrow(description: list[psycopg.Column], rows: list[tuple[Any, ...]]) -> pa.Table:
    names = [c.name for c in description]
    kinds = [_arrow_type(c.type_code) for c in description]
    columns: list[list[Any]] = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in names]
    arrays = []
    for values, kind in zip(columns, kinds, strict=True):
        if kind == pa.string():
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        arrays.append(_column(values, kind))
    return pa.Table.from_arrays(arrays, names=_unique(names))


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count}")
    return out


class PostgresBackend:
    """A :class:`~tubescope.warehouse.backend.Backend` over one pooled psycopg connection."""

    name = "postgresql"
    dialect = DIALECT
    errors: tuple[type[Exception], ...] = (psycopg.Error,)
    conflicts: tuple[type[Exception], ...] = (psycopg.errors.SerializationFailure,)

    def __init__(self, target: PostgresTarget, *, pool_size: int | None = None) -> None:
        self.target = target
        self._pool = _pool(target, pool_size or target.pool_size or DEFAULT_POOL_SIZE)
        try:
            self._conn: psycopg.Connection[Any] | None = self._pool.getconn(timeout=30)
        except PoolTimeout:
            raise StorageError(f"no free connection to {target.display} within 30 s") from None

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """The pooled psycopg connection (a closed backend says so)."""
        if self._conn is None:
            raise StorageError(f"warehouse {self.target.display} is closed")
        return self._conn

    def _execute(self, cur: psycopg.Cursor[Any], text: str, params: Params) -> None:
        if params:
            cur.execute(pyformat(text), params)
        else:
            cur.execute(text.encode())

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Run a statement; every row it returns."""
        with self.connection.cursor() as cur:
            self._execute(cur, sql, params)
            return cur.fetchall() if cur.description else []

    def count(self, sql: str, params: Params = None) -> int:
        """Run a statement; the number of rows it changed."""
        with self.connection.cursor() as cur:
            self._execute(cur, sql, params)
            return max(cur.rowcount, 0)

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        """The result as an Arrow table, typed from the result's column types."""
        with self.connection.cursor() as cur:
            self._execute(cur, sql, params)
            if cur.description is None:
                return pa.table({})
            return _to_arrow(cur.description, cur.fetchall())

    def arrow_batches(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The result in Arrow batches (rows are converted batch by batch)."""
        with self.connection.cursor() as cur:
            self._execute(cur, sql, params)
            if cur.description is None:
                return
            description = cur.description
            while True:
                rows = cur.fetchmany(batch_rows)
                if not rows:
                    break
                yield from _to_arrow(description, rows).to_batches()

    def stage(self, name: str, table: pa.Table) -> None:
        """A temporary table ``name`` holding ``table``'s rows (filled by COPY)."""
        kinds = []
        for field in table.schema:
            kind = _PG_TYPES.get(field.type)
            if kind is None and pa.types.is_timestamp(field.type):
                kind = "timestamptz"
            if kind is None:
                raise StorageError(f"cannot stage a column of type {field.type} ({field.name})")
            kinds.append(kind)
        ident = sql.Identifier(name)
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(kind))
            for f, kind in zip(table.schema, kinds, strict=True)
        )
        conn = self.connection
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
        conn.execute(sql.SQL("CREATE TEMP TABLE {} ({})").format(ident, columns))
        values = [column.to_pylist() for column in table.columns]
        with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN").format(ident)) as copy:
            copy.set_types(kinds)
            for row in zip(*values, strict=True):
                copy.write_row(row)

    def unstage(self, name: str) -> None:
        """Drop the temporary table (left to the rollback when the transaction has failed)."""
        conn = self.connection
        if conn.info.transaction_status == pq.TransactionStatus.INERROR:
            return
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))

    def begin(self) -> None:
        """BEGIN."""
        self.connection.execute(b"BEGIN")

    def commit(self) -> None:
        """COMMIT."""
        self.connection.execute(b"COMMIT")

    def rollback(self) -> None:
        """ROLLBACK."""
        self.connection.execute(b"ROLLBACK")

    def close(self) -> None:
        """Hand the connection back to the pool (which rolls back anything left open)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            self._pool.putconn(conn)

    # -- schema ------------------------------------------------------------------------------

    def current_version(self) -> int:
        """The schema version recorded in the database; 0 for a new, empty one."""
        found = self.rows("SELECT to_regclass('schema_version') IS NOT NULL")
        if not found or not found[0][0]:
            return 0
        row = self.rows("SELECT coalesce(max(version), 0) FROM schema_version")
        return int(row[0][0]) if row else 0

    def migrate(self, *, now: datetime, allowed: bool) -> int:
        """Check the schema and apply pending migrations, once, under the advisory lock.

        Replicas starting together queue on the lock; the first migrates, the others then find
        the schema current. ``allowed=False`` refuses an older schema instead of migrating it.
        """
        from tubescope.warehouse.db import NeedsMigration

        if self.target.url in _current:
            return migrations.LATEST_VERSION
        version = self.current_version()
        migrations.check_supported(version)
        if version == migrations.LATEST_VERSION:
            _current.add(self.target.url)
            return version
        if not allowed:
            raise NeedsMigration(
                f"{self.target.display} is at schema v{version} and needs migrating to"
                f" v{migrations.LATEST_VERSION}; run a writing command (such as tubescope collect) once"
            )
        version = self.migrate_to(migrations.LATEST_VERSION, now=now)
        _current.add(self.target.url)
        return version

    def migrate_to(self, target: int, *, now: datetime) -> int:
        """Apply every migration up to ``target`` in one transaction holding the lock."""
        if not 0 < target <= migrations.LATEST_VERSION:
            raise StorageError(
                f"no schema version {target}; this tubescope knows v1..v{migrations.LATEST_VERSION}"
            )
        conn = self.connection
        try:
            # A session lock taken *before* the transaction: PostgreSQL refreshes its catalog
            # caches when a transaction starts, not when an advisory lock is granted, so a
            # transaction that waited on the lock could still miss the tables the first migrator
            # created (and create them again: "relation ... already exists").
            conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            try:
                return self._migrate_locked(target, now)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
        except psycopg.Error as exc:
            raise StorageError(
                f"schema migration of {self.target.display} failed: {_redacted(exc)}"
            ) from None

    def _migrate_locked(self, target: int, now: datetime) -> int:
        conn = self.connection
        with conn.transaction():
            version = self.current_version()
            migrations.check_supported(version)
            todo = [m for m in migrations.POSTGRES_MIGRATIONS if version < m.version <= target]
            if todo:
                conn.execute(migrations.VERSION_TABLE.encode())
            for migration in todo:
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_version VALUES (%s, %s, %s)",
                    [migration.version, migration.description, now],
                )
            return todo[-1].version if todo else version


def open_backend(target: PostgresTarget, *, pool_size: int | None = None) -> PostgresBackend:
    """A backend on ``target``, or a :class:`StorageError` with the URL's password masked.

    ``pool_size`` (else ``target.pool_size``, else :data:`DEFAULT_POOL_SIZE`) bounds this
    process's pool when this open is the first on the database.
    """
    try:
        return PostgresBackend(target, pool_size=pool_size)
    except psycopg.Error as exc:
        raise StorageError(f"cannot open {target.display}: {_redacted(exc)}") from None
