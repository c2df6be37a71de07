"""Run one :class:`~tubescope.jobs.queue.JobSpec` to its end: the job functions, called by kind.

Shared by ``tubescope worker`` and the service's in-process jobs. Runs synchronously (in a
thread of the caller's choosing); progress goes to a :class:`JobProgress`, which also carries
the request to stop: a collection then stops at its next checkpoint, its run left resumable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tubescope.config import Settings
from tubescope.errors import NotFoundError, TubescopeError
from tubescope.jobs.queue import JobKind, JobSpec
from tubescope.jobs.quota import QuotaUsage

if TYPE_CHECKING:
    from tubescope.pipeline.run import CollectSummary


class JobStopped(TubescopeError):
    """Raised inside a running collection asked to stop; the run stops at a checkpoint."""


class JobProgress:
    """Counters a job updates as it goes (read by another thread) and a stop request.

    Implements :class:`~tubescope.pipeline.progress.CollectProgress`.
    """

    def __init__(self, *, earlier_run_id: int | None = None) -> None:
        # The run an earlier attempt of this job opened (from its last stored progress): a retry
        # whose run already completed must not collect again (see _collect).
        self.earlier_run_id = earlier_run_id
        self.counters: dict[str, int] = {
            "channels_done": 0,
            "videos_expected": 0,
            "videos_stored": 0,
            "pages_walked": 0,
            "quota_used": 0,
        }
        self.stop_reason: str | None = None
        self._stop = threading.Event()

    def stop(self, reason: str) -> None:
        """Ask the job to stop at its next checkpoint (the first reason given wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether the job was asked to stop."""
        return self._stop.is_set()

    def snapshot(self) -> dict[str, int]:
        """A copy of the counters."""
        return dict(self.counters)

    def _check(self) -> None:
        if self._stop.is_set():
            raise JobStopped(f"job stopped: {self.stop_reason}")

    def run_opened(self, run_id: int, resumed: bool) -> None:
        """Note the job's run in its progress (stored with each heartbeat, read by a retry)."""
        self.counters["run_id"] = run_id

    def channel_started(self, channel_id: str, title: str, expected_videos: int) -> None:
        """Count the videos the channel is expected to hold."""
        self.counters["videos_expected"] += expected_videos
        self._check()

    def page_walked(self, channel_id: str) -> None:
        """Count one playlist page walked."""
        self.counters["pages_walked"] += 1
        self._check()

    def videos_stored(self, channel_id: str, count: int) -> None:
        """Count ``count`` videos stored."""
        self.counters["videos_stored"] += count
        self._check()

    def quota_spent(self, units: int) -> None:
        """Count ``units`` of quota spent."""
        self.counters["quota_used"] += units

    def quota_usage(self, usage: QuotaUsage) -> None:
        """What each key spent per quota bucket, heard once when a collection's client closes."""

    def channel_finished(self, channel_id: str) -> None:
        """Count one channel finished."""
        self.counters["channels_done"] += 1


@dataclass(frozen=True)
class JobOutcome:
    """What a job left: its result (JSON-ready) and, when it did not complete, why."""

    result: dict[str, Any] | None
    error: TubescopeError | None = None

    @property
    def stopped(self) -> bool:
        """True when the job stopped because it was asked to (it can be resumed)."""
        return isinstance(self.error, JobStopped)


def execute(spec: JobSpec, settings: Settings, progress: JobProgress, job_id: str) -> JobOutcome:
    """Run ``spec`` with ``settings`` (its warehouse, keys and folders) and return its outcome.

    Anticipated failures come back in the outcome; anything else is raised.
    """
    try:
        if spec.kind is JobKind.COLLECT:
            return _collect(spec, settings, progress)
        if spec.kind is JobKind.TRAIN:
            return _train(spec, settings)
        if spec.kind is JobKind.REPORT:
            return _report(spec, settings, job_id)
        if spec.kind is JobKind.WATCH:
            return _watch(spec, settings)
        return _export(spec, settings, job_id)
    except TubescopeError as exc:
        return JobOutcome(None, exc)


def _collect(spec: JobSpec, settings: Settings, progress: JobProgress) -> JobOutcome:
    from tubescope.jobs.collect import collect

    if progress.earlier_run_id is not None:
        completed = _completed_run(settings, progress.earlier_run_id)
        if completed is not None:
            # The worker of the earlier attempt died after its run completed but before the
            # job's record said so: collecting again would be a second run, every video stored
            # twice. The job's outcome is that run's.
            progress.run_opened(progress.earlier_run_id, resumed=False)
            return JobOutcome(completed.as_dict())
    budget = spec.params.get("budget")
    summary = collect(
        list(spec.params["refs"]),
        full=bool(spec.params.get("full", False)),
        budget=int(budget) if budget is not None else None,
        settings=settings,
        progress=progress,
        on_quota_usage=progress.quota_usage,
    )
    error = summary.exit_error
    if progress.stopping and error is not None:
        error = JobStopped(f"job stopped: {progress.stop_reason}")
    return JobOutcome(summary.as_dict(), error)


def _completed_run(settings: Settings, run_id: int) -> CollectSummary | None:
    """Run ``run_id`` as a collection's summary when it completed; None when it has work left
    (then the collection resumes it) or is not in the warehouse."""
    from tubescope.jobs.common import open_for_reading
    from tubescope.pipeline.run import CollectSummary, RunState
    from tubescope.warehouse import RunStatus

    try:
        with open_for_reading(settings.warehouse_target) as warehouse:
            run = warehouse.get_run(run_id)
            channels = [
                str(row[0])
                for row in warehouse.fetchall(
                    "SELECT DISTINCT channel_id FROM channel_snapshots WHERE run_id = ? ORDER BY 1", [run_id]
                )
            ]
    except NotFoundError:
        return None
    if run.status is not RunStatus.COMPLETED:
        return None
    counts = run.counters
    return CollectSummary(
        run_id=run.run_id,
        status=RunState.COMPLETED,
        quota_used=run.total_quota_spent,
        videos_new=int(counts.get("videos_new", 0)),
        videos_updated=int(counts.get("videos_updated", 0)),
        snapshots=int(counts.get("snapshots", 0)),
        quarantined=int(counts.get("quarantined", 0)),
        tombstoned=int(counts.get("tombstoned", 0)),
        comments=int(counts.get("comments", 0)),
        channels=tuple(channels),
        quota_by_key=dict(run.quota_spent),
    )


def _watch(spec: JobSpec, settings: Settings) -> JobOutcome:
    from datetime import datetime

    from tubescope.jobs.watch import sweep

    result = sweep(
        datetime.fromisoformat(str(spec.params["at"])),
        channel_ids=[str(c) for c in spec.params.get("channels", [])],
        pushed={str(v): str(c) for v, c in dict(spec.params.get("pushed", {})).items()},
        dense=bool(spec.params.get("dense", True)),
        settings=settings,
    )
    return JobOutcome(result.as_dict(), None)


def _train(spec: JobSpec, settings: Settings) -> JobOutcome:
    from tubescope.jobs.common import load_channel_frames, open_for_reading
    from tubescope.jobs.train import train

    with open_for_reading(settings.warehouse_target) as warehouse:  # the service's connection, if inside it
        frames = load_channel_frames(warehouse)
    horizon = float(spec.params.get("horizon_days", 7.0))
    return JobOutcome(train(settings=settings, horizon_days=horizon, frames=frames).to_dict())


def _job_dir(settings: Settings, job_id: str) -> Path:
    base = settings.output_dir or settings.db_path.resolve().parent / "outputs"
    return base / job_id


def _report(spec: JobSpec, settings: Settings, job_id: str) -> JobOutcome:
    from tubescope.jobs.report import ReportFormat, write_report

    chosen = ReportFormat(str(spec.params.get("format", "html")))
    out = _job_dir(settings, job_id) / f"report.{chosen.value}"
    out.parent.mkdir(parents=True, exist_ok=True)
    outcome = write_report(
        settings.warehouse_target,
        str(spec.params["channel"]),
        out,
        peers=list(spec.params.get("peers", [])),
        report_format=chosen,
    )
    return JobOutcome(
        {
            "path": str(outcome.path),
            "format": outcome.report_format.value,
            "channel_id": outcome.channel_id,
            "peer_ids": list(outcome.peer_ids),
            "recommendations": outcome.n_recommendations,
            "size_bytes": outcome.size_bytes,
        }
    )


def _export(spec: JobSpec, settings: Settings, job_id: str) -> JobOutcome:
    from tubescope.jobs.common import open_for_reading
    from tubescope.warehouse.export import export_parquet, resolve_tables

    out = _job_dir(settings, job_id) / "export"
    names = resolve_tables(list(spec.params.get("tables", [])))
    with open_for_reading(settings.warehouse_target) as warehouse:  # the service's connection, if inside it
        result = export_parquet(warehouse, out, names)
    return JobOutcome(
        {
            "out_dir": str(result.out_dir),
            "rows": result.rows,
            "tables": [t.table for t in result.tables],
            "seconds": round(result.seconds, 3),
        }
    )
