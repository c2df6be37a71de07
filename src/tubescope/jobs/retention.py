"""Retention: drop statistics snapshots older than a number of days, keeping each video's latest.

``tubescope prune`` calls :func:`prune`; a completed ``tubescope collect`` calls
:func:`prune_after_collect` when ``retention_days`` is set. Runs, metadata, tombstones, the
quarantine and every video's and channel's most recent snapshot stay, so lineage and the latest
numbers remain traceable; each prune is recorded in the warehouse's ``retention_log``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from tubescope.config import Settings, load_settings
from tubescope.errors import ConfigError, StorageError
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import WarehouseTarget, parse_target

_log = structlog.get_logger("tubescope.jobs.retention")

Clock = Callable[[], datetime]


MAX_RETENTION_DAYS = 36_500
"""Longer ago than any data can be (and beyond what a date can subtract without overflowing)."""


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PruneOutcome:
    """What one prune removed, and the cutoff it used (observations before it were dropped)."""

    older_than_days: int
    cutoff: datetime
    video_snapshots_deleted: int
    channel_snapshots_deleted: int

    def as_dict(self) -> dict[str, Any]:
        """The outcome as a JSON-safe dictionary."""
        return {
            "older_than_days": self.older_than_days,
            "cutoff": self.cutoff.isoformat(),
            "video_snapshots_deleted": self.video_snapshots_deleted,
            "channel_snapshots_deleted": self.channel_snapshots_deleted,
        }

    def text(self) -> str:
        """The outcome in one line for the terminal."""
        return (
            f"pruned {self.video_snapshots_deleted} video snapshot(s) and "
            f"{self.channel_snapshots_deleted} channel snapshot(s) observed before "
            f"{self.cutoff.isoformat()} (older than {self.older_than_days} days; "
            "each video's and channel's latest snapshot kept)"
        )


def prune_warehouse(warehouse: Warehouse, older_than_days: int, *, now: datetime) -> PruneOutcome:
    """Prune an open, writable warehouse (one transaction, logged in ``retention_log``)."""
    # Imported here: it brings the cold archive (pyarrow's dataset and Parquet modules), which a
    # report, needing only the policy's description, would otherwise import for nothing.
    from tubescope.pipeline.kpi_aggregates import refresh_channel_kpis

    with warehouse.transaction():
        result = warehouse.prune_snapshots(older_than_days, now=now, keep_latest=True)
        refresh_channel_kpis(warehouse, at=now)
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
    if not 1 <= older_than_days <= MAX_RETENTION_DAYS:
        raise ConfigError(
            f"--older-than-days must be at least 1 and at most {MAX_RETENTION_DAYS}, got {older_than_days}"
        )
    target = parse_target(db_path) if db_path is not None else (settings or load_settings()).warehouse_target
    if isinstance(target, Path) and not target.is_file():
        raise StorageError(f"no warehouse at {target}: run `tubescope collect` first or pass --db")
    with Warehouse.open(target, clock=clock) as warehouse:
        return prune_warehouse(warehouse, older_than_days, now=clock())


# -- the retention policy (strict | extended) ------------------------------------------------------

RETENTION_MODES = ("strict", "extended")

_DAILY_AGGREGATES_SQL = """
INSERT INTO channel_daily_aggregates
    (channel_id, day, videos_observed, views_total, views_median, engagement_mean, computed_at)
SELECT channel_id, day, count(*), sum(view_count),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY view_count),
       avg(CASE WHEN view_count > 0 AND like_count IS NOT NULL
                THEN (like_count + coalesce(comment_count, 0)) * 1.0 / view_count END),
       ?
FROM (
    SELECT channel_id, view_count, like_count, comment_count, day,
           row_number() OVER (PARTITION BY video_id, day ORDER BY observed_at DESC) AS newest
    FROM (SELECT *, CAST(observed_at AT TIME ZONE 'UTC' AS DATE) AS day
          FROM video_snapshots WHERE observed_at < ?) AS s
) AS d
WHERE newest = 1
GROUP BY channel_id, day
ON CONFLICT (channel_id, day) DO NOTHING
"""
"""Each channel's day from each video's last snapshot of that UTC day (derived figures)."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """``strict``: raw statistics for ``window_days`` only, derived daily aggregates beyond;
    ``extended``: everything is kept (the operator holds the policy's accepted amendment)."""

    mode: str = "extended"
    window_days: int = 30

    def __post_init__(self) -> None:
        if self.mode not in RETENTION_MODES:
            raise ConfigError(f"retention.mode must be strict or extended, not {self.mode!r}")
        if self.window_days < 1:
            raise ConfigError(f"retention window must be at least 1 day, got {self.window_days}")

    @property
    def strict(self) -> bool:
        """Whether raw statistics are deleted after the window."""
        return self.mode == "strict"

    def as_dict(self) -> dict[str, Any]:
        """The policy as a JSON-safe dictionary."""
        return {"mode": self.mode, "raw_statistics_days": self.window_days if self.strict else None}

    def describe(self) -> str:
        """One sentence for the report's methods appendix."""
        if self.strict:
            return (
                f'Strict (retention.mode = "strict"): raw YouTube statistics are kept for '
                f"{self.window_days} days (each video's latest snapshot excepted); older days survive "
                "only as tubescope's derived daily aggregates per channel."
            )
        return (
            'Extended (retention.mode = "extended"): every raw statistics snapshot is kept '
            "(older ones may sit in the cold archive); the operator is responsible for the "
            "YouTube API policy's storage terms."
        )


def policy_from(settings: Settings) -> RetentionPolicy:
    """The configured retention policy."""
    return RetentionPolicy(settings.retention_mode, settings.retention_window_days)


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    """What one strict pass kept as aggregates and pruned."""

    cutoff: datetime
    aggregates_written: int
    prune: PruneOutcome

    def as_dict(self) -> dict[str, Any]:
        """The outcome as a JSON-safe dictionary."""
        return {"aggregates_written": self.aggregates_written, **self.prune.as_dict()}


def apply_policy(warehouse: Warehouse, policy: RetentionPolicy, *, now: datetime) -> PolicyOutcome | None:
    """Strict: write the daily aggregates of every whole UTC day before the window, then prune
    the raw snapshots of those days, in one transaction. Extended: nothing (``None``)."""
    if not policy.strict:
        return None
    from tubescope.warehouse import archive as cold  # the archive holds raw rows too

    if cold.segments(warehouse):
        raise ConfigError(
            "strict retention keeps no raw statistics beyond the window, but this warehouse has an "
            'archive: `tubescope restore` it (then it is pruned) or use retention.mode = "extended"'
        )
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
    cutoff = midnight - timedelta(days=policy.window_days)
    with warehouse.transaction() as backend:
        written = backend.count(_DAILY_AGGREGATES_SQL, [now, cutoff])
        # anchored at midnight, so the pruned rows are exactly the aggregated whole days
        pruned = prune_warehouse(warehouse, policy.window_days, now=midnight)
    outcome = PolicyOutcome(cutoff, written, pruned)
    _log.info("retention.strict", **outcome.as_dict())
    return outcome
