"""The one seam between the repository and a database engine.

:class:`~tubescope.warehouse.repository.Warehouse` holds the backend-neutral logic (lineage,
idempotency, quarantine, checks) and talks to the engine only through :class:`Backend`:
run a statement, count what it changed, fetch Arrow, stage an Arrow batch as a temporary table,
and begin/commit/roll back. Statements are written once with ``?`` (positional) or ``$name``
(named) placeholders; the SQL that genuinely differs between engines is a :class:`Dialect`
attribute, one module per backend (:mod:`~tubescope.warehouse.duckdb_backend`,
:mod:`~tubescope.warehouse.postgres_backend`), as dlt keeps one module per destination.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from tubescope.warehouse.target import WarehouseTarget

Params = Sequence[Any] | Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class Dialect:
    """The SQL that differs between backends; everything else is written once."""

    name: str
    json_type: str
    """The type JSON columns are stored as (compared through its text form)."""
    latest_channel_snapshots: str
    """Each channel's newest snapshot: ``channel_id, observed_at, subs, views, videos`` for the
    ids in the list parameter ``?``."""
    prune_keep_latest: str
    """``{table}``/``{key}`` template: ``AND <row not the newest of its key>`` for a prune."""
    tag_count: str
    """An expression: the number of elements of the ``tags`` array, as BIGINT (0 when empty)."""
    lock_shared: str
    """Appended to a one-row SELECT inside a transaction: hold the row against concurrent updates
    until the transaction ends (empty where one process is the only writer)."""
    lock_update: str
    """Appended to a one-row SELECT inside a transaction that will update that row."""


class Backend(Protocol):
    """What the repository needs from a database engine (see the module docstring)."""

    name: str
    """``"duckdb"`` or ``"postgresql"``."""
    dialect: Dialect
    errors: tuple[type[Exception], ...]
    """Driver exceptions that mean "the database refused" (mapped to StorageError)."""
    conflicts: tuple[type[Exception], ...]
    """Those of ``errors`` that mean "a concurrent transaction changed the same rows first"
    (mapped to WriteConflict)."""

    @property
    def target(self) -> WarehouseTarget:
        """The file or database this backend works on."""
        ...

    def rows(self, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """Run a statement and return every row (an empty list for statements without any)."""
        ...

    def count(self, sql: str, params: Params = None) -> int:
        """Run an INSERT, UPDATE or DELETE and return how many rows it changed."""
        ...

    def arrow(self, sql: str, params: Params = None) -> pa.Table:
        """Run a query and return its result as an Arrow table (typed even when empty)."""
        ...

    def arrow_batches(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Run a query and stream its result in record batches of about ``batch_rows`` rows."""
        ...

    def stage(self, name: str, table: pa.Table) -> None:
        """Make ``table`` readable by SQL as ``name`` until :meth:`unstage`."""
        ...

    def unstage(self, name: str) -> None:
        """Drop what :meth:`stage` made."""
        ...

    def begin(self) -> None:
        """Begin a transaction."""
        ...

    def commit(self) -> None:
        """Commit the transaction begun."""
        ...

    def rollback(self) -> None:
        """Roll back the transaction begun."""
        ...

    def close(self) -> None:
        """Release the connection (idempotent)."""
        ...
