"""The cold-archive jobs: ``tubescope archive`` and ``tubescope restore``.

See :mod:`tubescope.warehouse.archive` for the protocol.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from tubescope.config import load_settings
from tubescope.errors import ConfigError, StorageError
from tubescope.jobs.retention import Clock, utc_now
from tubescope.warehouse import archive as cold
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import WarehouseTarget, parse_target

_log = structlog.get_logger("tubescope.jobs.archive")
_AGE = re.compile(r"^\s*(\d+)\s*([dw]?)\s*$")


def parse_age(text: str) -> timedelta:
    """``90d``, ``12w`` or a bare number of days; :class:`ConfigError` otherwise."""
    match = _AGE.match(text.lower())
    if not match:
        raise ConfigError(f"invalid age {text!r}: use a number of days such as 90d (or weeks: 12w)")
    days = int(match[1]) * (7 if match[2] == "w" else 1)
    if days < 1:
        raise ConfigError(f"invalid age {text!r}: it must be at least one day")
    return timedelta(days=days)


def parse_day(text: str, name: str) -> datetime:
    """A ``YYYY-MM-DD`` date (or an ISO time with a zone) as an aware UTC datetime."""
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"invalid {name} {text!r}: use a date such as 2026-01-31") from None
    if value.tzinfo is None:
        raise ConfigError(f"invalid {name} {text!r}: give a time zone, or a plain date (UTC)")
    return value.astimezone(UTC)


def _target(db_path: WarehouseTarget | str | None) -> WarehouseTarget:
    target = parse_target(db_path) if db_path is not None else load_settings().warehouse_target
    if isinstance(target, Path) and not target.is_file():
        raise StorageError(f"no warehouse at {target}: run `tubescope collect` first or pass --db")
    return target


@dataclass(frozen=True, slots=True)
class ArchiveSummary:
    """What ``tubescope archive`` moved."""

    outcome: cold.ArchiveOutcome

    def as_dict(self) -> dict[str, Any]:
        """The outcome as a JSON-safe dictionary."""
        out = self.outcome
        return {
            "location": out.location,
            "cutoff": out.cutoff.isoformat(),
            "rows": out.rows,
            "bytes": out.bytes,
            "cleaned_pending": out.cleaned,
            "segments": [
                {"segment_id": s.segment_id, "table": s.table, "rows": s.rows, "path": s.data_path}
                for s in out.segments
            ],
        }

    def text(self) -> str:
        """The outcome in one line for the terminal."""
        out = self.outcome
        tables: dict[str, int] = {}
        for segment in out.segments:
            tables[segment.table] = tables.get(segment.table, 0) + segment.rows
        moved = ", ".join(f"{rows} {table} rows" for table, rows in tables.items()) or "nothing"
        return (
            f"archived {moved} observed before {out.cutoff.isoformat()} to {out.location} "
            f"in {len(out.segments)} verified segment(s), {out.bytes} bytes"
            + (f"; cleaned {out.cleaned} unfinished segment(s)" if out.cleaned else "")
        )


def run_archive(
    db_path: WarehouseTarget | str | None = None,
    *,
    to: str,
    older_than: str = "90d",
    tables: Sequence[str] = (),
    clock: Clock = utc_now,
) -> ArchiveSummary:
    """``tubescope archive``: move snapshots older than ``older_than`` to ``to`` (s3:// or file://)."""
    age = parse_age(older_than)
    if load_settings().retention_mode == "strict":
        raise ConfigError(
            "retention.mode is strict: raw statistics are not kept beyond the window anywhere, "
            'so there is nothing to archive (set retention.mode = "extended" to keep them cold)'
        )
    target = _target(db_path)
    now = clock()
    with Warehouse.open(target, clock=clock) as warehouse:
        outcome = cold.archive(warehouse, to, now - age, tables=tables or tuple(cold.ARCHIVE_TABLES), now=now)
    summary = ArchiveSummary(outcome)
    _log.info("archive.done", location=outcome.location, rows=outcome.rows, segments=len(outcome.segments))
    return summary


@dataclass(frozen=True, slots=True)
class RestoreSummary:
    """What ``tubescope restore`` brought back."""

    outcome: cold.RestoreOutcome

    def as_dict(self) -> dict[str, Any]:
        """The outcome as a JSON-safe dictionary."""
        out = self.outcome
        return {"from": out.start.isoformat(), "to": out.end.isoformat(), "rows": out.rows}

    def text(self) -> str:
        """The outcome in one line for the terminal."""
        out = self.outcome
        moved = ", ".join(f"{rows} {table} rows" for table, rows in out.rows.items())
        return f"restored {moved} observed from {out.start.isoformat()} to before {out.end.isoformat()}"


def run_restore(
    db_path: WarehouseTarget | str | None = None,
    *,
    start: str,
    end: str,
    tables: Sequence[str] = (),
    clock: Clock = utc_now,
) -> RestoreSummary:
    """``tubescope restore``: bring archived snapshots observed in ``[start, end)`` back."""
    begin, finish = parse_day(start, "--from"), parse_day(end, "--to")
    with Warehouse.open(_target(db_path), clock=clock) as warehouse:
        outcome = cold.restore(
            warehouse, begin, finish, tables=tables or tuple(cold.ARCHIVE_TABLES), now=clock()
        )
    _log.info("archive.restored", rows=outcome.rows)
    return RestoreSummary(outcome)
