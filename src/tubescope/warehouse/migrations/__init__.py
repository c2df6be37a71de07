"""Numbered schema migrations, applied in order inside one transaction.

Each ``NNNN_description.sql`` file moves the schema from version ``NNNN - 1`` to ``NNNN``. The
``schema_version`` table records every version applied. Never edit a released migration: add
the next number instead (a database in the wild may already be at any earlier version).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING

from tubescope.errors import SchemaVersionError, StorageError

if TYPE_CHECKING:
    import duckdb

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema migration: its version, description and SQL."""

    version: int
    description: str
    sql: str


def _load(package: str = __name__) -> tuple[Migration, ...]:
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(
                Migration(int(match[1]), match[2].replace("_", " "), entry.read_text(encoding="utf-8"))
            )
    found.sort(key=lambda m: m.version)
    expected = list(range(1, len(found) + 1))
    if [m.version for m in found] != expected:
        raise StorageError(f"migrations are not numbered 1..n without gaps: {[m.version for m in found]}")
    return tuple(found)


MIGRATIONS: tuple[Migration, ...] = _load()
LATEST_VERSION: int = MIGRATIONS[-1].version
POSTGRES_MIGRATIONS: tuple[Migration, ...] = _load(f"{__name__}.postgres")
"""The PostgreSQL twins: same numbers, same schema meaning (see ``postgres/``)."""
if [m.version for m in POSTGRES_MIGRATIONS] != [m.version for m in MIGRATIONS]:
    raise StorageError("PostgreSQL and DuckDB migrations must carry the same version numbers")

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)
"""


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the open database; 0 for a new, empty one."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def check_supported(version: int) -> None:
    """Raise SchemaVersionError when ``version`` is newer than this tubescope supports."""
    if version > LATEST_VERSION:
        raise SchemaVersionError(
            f"database schema v{version} is newer than this tubescope (v{LATEST_VERSION}); upgrade tubescope"
        )


def pending(con: duckdb.DuckDBPyConnection, target: int = LATEST_VERSION) -> tuple[Migration, ...]:
    """The migrations that would bring the database to ``target``."""
    version = current_version(con)
    check_supported(version)
    return tuple(m for m in MIGRATIONS if version < m.version <= target)


def migrate(con: duckdb.DuckDBPyConnection, *, now: datetime, target: int = LATEST_VERSION) -> int:
    """Apply every pending migration up to ``target`` atomically; returns the resulting version.

    Either all pending migrations land or none do, so a crash mid-upgrade leaves the old schema.
    """
    if not 0 < target <= LATEST_VERSION:
        raise StorageError(f"no schema version {target}; this tubescope knows v1..v{LATEST_VERSION}")
    todo = pending(con, target)
    if not todo:
        return current_version(con)
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        con.execute(VERSION_TABLE).fetchall()
        for migration in todo:
            con.execute(migration.sql).fetchall()
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [migration.version, migration.description, now],
            ).fetchall()
        con.execute("COMMIT").fetchall()
    except Exception as exc:
        con.execute("ROLLBACK").fetchall()
        raise StorageError(f"schema migration to v{todo[-1].version} failed: {exc}") from exc
    return todo[-1].version
