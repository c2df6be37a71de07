"""The ``runs`` job: the collection runs recorded in the warehouse, newest first."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from tubescope.jobs.common import open_for_reading
from tubescope.warehouse.lineage import RunSummary
from tubescope.warehouse.target import WarehouseTarget


def list_runs(db_path: WarehouseTarget, *, limit: int = 20) -> list[RunSummary]:
    """The ``limit`` newest collection runs (every status, resumed ones once)."""
    with open_for_reading(db_path) as warehouse:
        return warehouse.run_summaries(limit=limit)


def run_dict(run: RunSummary) -> dict[str, Any]:
    """One run as JSON: its id, status, times, channels, quota and counters."""
    return {
        "run_id": run.run_id,
        "source": run.source,
        "status": str(run.status),
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "channels": list(run.channel_refs),
        "quota_spent": run.total_quota_spent,
        "counters": dict(run.counters),
        "attempts": run.attempts,
        "error": run.error,
    }


def runs_table(runs: list[RunSummary]) -> Table:
    """The runs as a table that reads at 80 columns."""
    table = Table(title="Collection runs (newest first)")
    table.add_column("Run", justify="right", no_wrap=True)
    table.add_column("Started (UTC)", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Channels", overflow="fold")
    table.add_column("Quota", justify="right", no_wrap=True)
    table.add_column("Videos", justify="right", no_wrap=True)
    for run in runs:
        videos = run.counters.get("videos_new", 0) + run.counters.get("videos_updated", 0)
        table.add_row(
            str(run.run_id),
            f"{run.started_at:%Y-%m-%d %H:%M}",
            str(run.status) + (f" ({run.error[:40]})" if run.error else ""),
            ", ".join(run.channel_refs) or "—",
            str(run.total_quota_spent),
            str(videos),
        )
    return table
