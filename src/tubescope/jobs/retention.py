"""Retention: drop statistics snapshots older than a number of days, keeping each video's latest.

``tubescope prune`` calls :func:`prune`; a completed ``tubescope collect`` calls
:func:`prune_after_collect` when ``retention_days`` is set. Runs, metadata, tombstones, the
quarantine and every video's and channel's most recent snapshot stay, so lineage and the latest
numbers remain traceable; each prune is recorded in the warehouse's ``retention_log``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from tubescope.config import Settings, load_settings
from tubescope.errors import ConfigError, StorageError
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import WarehouseTarget, parse_target

_log = structlog.get_logger("tubescope.jobs.retention")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PruneOutcome:
    """What one prune removed, and the cutoff it used (observations before it were dropped)."""

    older_than_days: int
    cutoff: datetime
    video_snapshots_deleted: int
    channel_snapshots_deleted: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "older_than_days": self.older_than_days,
            "cutoff": self.cutoff.isoformat(),
            "video_snapshots_deleted": self.video_snapshots_deleted,
            "channel_snapshots_deleted": self.channel_snapshots_deleted,
        }

    def text(self) -> str:
        return (
            f"pruned {self.video_snapshots_deleted} video snapshot(s) and "
            f"{self.channel_snapshots_deleted} channel snapshot(s) observed before "
            f"{self.cutoff.isoformat()} (older than {self.older_than_days} days; "
            "each video's and channel's latest snapshot kept)"
        )


def prune_warehouse(warehouse: Warehouse, older_than_days: int, *, now: datetime) -> PruneOutcome:
    """Prune an open, writable warehouse (one transaction, logged in ``retention_log``)."""
    result = warehouse.prune_snapshots(older_than_days, now=now, keep_latest=True)
    assert result is not None  # only None for "keep forever", which older_than_days rules out
    outcome = PruneOutcome(
        older_than_days=older_than_days,
        cutoff=result.cutoff,
        video_snapshots_deleted=result.video_snapshots_deleted,
        channel_snapshots_deleted=result.channel_snapshots_deleted,
    )
    _log.info("retention.pruned", **outcome.as_dict())
    return outcome


def prune(
    db_path: WarehouseTarget | str | None = None,
    *,
    older_than_days: int,
    settings: Settings | None = None,
    clock: Clock = utc_now,
) -> PruneOutcome:
    """``tubescope prune``: delete snapshots observed more than ``older_than_days`` days ago.

    Raises :class:`~tubescope.errors.ConfigError` for fewer than 1 day and
    :class:`~tubescope.errors.StorageError` when there is no warehouse at the path (a prune never
    creates an empty one).
    """
    if older_than_days < 1:
        raise ConfigError(f"--older-than-days must be at least 1, got {older_than_days}")
    target = parse_target(db_path) if db_path is not None else (settings or load_settings()).warehouse_target
    if isinstance(target, Path) and not target.is_file():
        raise StorageError(f"no warehouse at {target}: run `tubescope collect` first or pass --db")
    with Warehouse.open(target, clock=clock) as warehouse:
        return prune_warehouse(warehouse, older_than_days, now=clock())
