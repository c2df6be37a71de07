"""Opening the DuckDB file (error mapping, session settings, migrations) and transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from tubescope.errors import StorageError, WriteConflict
from tubescope.warehouse import migrations
from tubescope.warehouse.filelease import WarehouseLocked
from tubescope.warehouse.target import redact_url

if TYPE_CHECKING:
    from tubescope.warehouse.backend import Backend

DEFAULT_DB_PATH = Path("tubescope.duckdb")
DEFAULT_MEMORY_LIMIT = "512MB"
"""DuckDB's working-memory cap: loading 10M snapshot rows sorted then peaks near 1.4 GB (the
frame itself is 0.8 GB) instead of 2.5 GB; larger sorts spill to disk."""
Clock = Callable[[], datetime]


class NeedsMigration(StorageError):
    """A read-only open met an older schema that it may not migrate itself."""


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> list[Any]:
    """Execute and drain: DuckDB refuses further work while a result is left unfetched."""
    return con.execute(sql, params).fetchall()


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def connect(
    path: Path, *, read_only: bool, memory_limit: str | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection with UTC session time, or a :class:`StorageError` saying what is wrong.

    ``threads`` caps DuckDB's worker threads (``None``: one per core).
    """
    if read_only and not path.is_file():
        raise StorageError(f"no warehouse at {path}: run `tubescope collect` first or pass --db")
    if path.is_dir():
        raise StorageError(f"{path} is a directory, not a DuckDB file")
    if not read_only and not path.parent.exists():
        raise StorageError(f"cannot create {path}: folder {path.parent} does not exist")
    config: dict[str, str | bool | int | float | list[str]] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads is not None:
        config["threads"] = threads
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise WarehouseLocked(path, text) from None
        raise StorageError(f"cannot open {path}: {text}") from None
    except duckdb.Error as exc:
        raise StorageError(f"{path} is not a usable DuckDB file: {exc}") from None
    # Dates of TIMESTAMPTZ values (export partitions) must not depend on the host's zone.
    run_sql(con, "SET TimeZone = 'UTC'")
    return con


def prepare_schema(con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool, now: datetime) -> int:
    """Refuse newer schemas; migrate older ones (writable opens only). Returns the version."""
    version = migrations.current_version(con)
    migrations.check_supported(version)
    if version == migrations.LATEST_VERSION:
        return version
    if read_only:
        raise NeedsMigration(
            f"{path} is at schema v{version} and needs migrating to v{migrations.LATEST_VERSION};"
            " run a writing command (such as tubescope collect) once"
        )
    return migrations.migrate(con, now=now)


class TransactionScope:
    """Re-entrant transactions: the outermost scope commits, any failure rolls everything back.

    Nesting lets the pipeline wrap a data batch and its checkpoint in one transaction while each
    write method stays atomic when called on its own. Works over any
    :class:`~tubescope.warehouse.backend.Backend` (DuckDB or PostgreSQL).
    """

    def __init__(self, backend: Backend, *, after_commit: Callable[[], object] | None = None) -> None:
        # The backend is asked for its connection at each outermost BEGIN: a leased DuckDB
        # warehouse reopens its file there after handing it to another process.
        self._backend = backend
        self._after_commit = after_commit
        self._depth = 0
        self.generation = 0
        """Counts outermost transactions begun, so facts checked inside one can be reused
        until it ends (and never carried into the next)."""

    @property
    def active(self) -> bool:
        """Whether a transaction is open."""
        return self._depth > 0

    @contextmanager
    def __call__(self) -> Iterator[Backend]:
        """Open a transaction, or join the one already open."""
        backend = self._backend
        if self._depth:
            self._depth += 1
            try:
                yield backend
            finally:
                self._depth -= 1
            return
        backend.begin()
        self.generation += 1
        self._depth = 1
        try:
            yield backend
        except BaseException as exc:
            self._depth = 0
            backend.rollback()
            if isinstance(exc, backend.conflicts):
                raise WriteConflict(
                    f"warehouse write lost to a concurrent one and was rolled back: {redact_url(str(exc))}"
                ) from exc
            if isinstance(exc, backend.errors):
                raise StorageError(
                    f"warehouse write failed and was rolled back: {redact_url(str(exc))}"
                ) from exc
            raise
        self._depth = 0
        try:
            backend.commit()
        except backend.conflicts as exc:
            raise WriteConflict(f"warehouse commit lost to a concurrent one: {redact_url(str(exc))}") from exc
        except backend.errors as exc:
            raise StorageError(f"warehouse commit failed: {redact_url(str(exc))}") from exc
        if self._after_commit is not None:
            self._after_commit()
