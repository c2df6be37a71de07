"""Jobs run by the service itself when there is no Redis: one at a time in a background thread.

The embedded default (one process, one DuckDB file) needs no server. Records live in this
process only, so a restart forgets them; a stopped collection still resumes its run on the next
job over the same channels. With ``TUBESCOPE_REDIS_URL`` the service uses
:class:`~tubescope.jobs.queue.RedisJobs` and ``tubescope worker`` instead.
"""

from __future__ import annotations

import contextvars
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from tubescope.config import Settings
from tubescope.errors import NotFoundError
from tubescope.jobs.common import settings_for, utc_now
from tubescope.jobs.queue import LIST_LIMIT, JobKind, JobSpec, JobState, collect_spec
from tubescope.jobs.quota import QuotaUsage
from tubescope.jobs.runner import JobProgress, JobStopped, execute
from tubescope.logging import redact_text
from tubescope.warehouse.target import WarehouseTarget

__all__ = ["CollectionJob", "JobCancelled", "JobManager", "JobState", "LocalJobs"]

_log = structlog.get_logger("tubescope.jobs.background")

JobCancelled = JobStopped
"""The error a cancelled collection stops with (kept under its old name)."""


class _MeteredProgress(JobProgress):
    def __init__(
        self, on_quota: Callable[[int], None], on_quota_usage: Callable[[QuotaUsage], None] | None
    ) -> None:
        super().__init__()
        self._on_quota = on_quota
        self._on_quota_usage = on_quota_usage

    def quota_spent(self, units: int) -> None:
        super().quota_spent(units)
        self._on_quota(units)

    def quota_usage(self, usage: QuotaUsage) -> None:
        if self._on_quota_usage is not None:
            self._on_quota_usage(usage)


@dataclass
class CollectionJob:
    """One job run by this process (any kind; the name is historical)."""

    job_id: str
    spec: JobSpec
    created_at: datetime
    progress: JobProgress = field(repr=False)
    state: JobState = JobState.QUEUED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    request_id: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to finish; None until the job has finished (or if it never started)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def refs(self) -> tuple[str, ...]:
        """The channel references the job collects."""
        return self.spec.refs

    def to_dict(self) -> dict[str, Any]:
        """The same JSON shape as a job record in Redis."""
        return {
            "job_id": self.job_id,
            "kind": self.spec.kind.value,
            "refs": list(self.refs),
            "params": dict(self.spec.params),
            "state": self.state.value,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "attempts": 0 if self.started_at is None else 1,
            "worker": None,
            "progress": {"channels_total": len(self.refs), **self.progress.snapshot()},
            "result": self.result,
            "error": self.error,
            "request_id": self.request_id,
        }


class JobManager:
    """Runs jobs one at a time (the warehouse has a single writer) in a background thread.

    A job runs in a copy of the starter's context, so whatever the starter bound to its log lines
    (the service binds ``request_id``) is bound to the job's log lines too, with ``job_id``.
    """

    def __init__(
        self,
        db_path: WarehouseTarget,
        settings: Settings,
        *,
        on_finished: Callable[[CollectionJob], None] = lambda _job: None,
        on_quota: Callable[[int], None] = lambda _units: None,
        on_quota_usage: Callable[[QuotaUsage], None] | None = None,
    ) -> None:
        self.db_path = db_path
        self.settings = settings_for(settings, db_path)
        self._on_finished = on_finished
        self._on_quota = on_quota
        self._on_quota_usage = on_quota_usage
        self._jobs: dict[str, CollectionJob] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")
        self._lock = threading.Lock()

    def start(self, refs: Sequence[str], *, full: bool = False, budget: int | None = None) -> CollectionJob:
        """Start a collection of ``refs`` (a typo is an error now, not a failed job later)."""
        return self.submit(collect_spec(refs, full=full, budget=budget))

    def submit(self, spec: JobSpec) -> CollectionJob:
        """Queue ``spec`` behind the jobs already waiting."""
        spec.validated()
        progress = _MeteredProgress(self._on_quota, self._on_quota_usage)
        job = CollectionJob(secrets.token_hex(8), spec, utc_now(), progress)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        job.request_id = str(request_id) if request_id is not None else None
        with self._lock:
            self._jobs[job.job_id] = job
        _log.info("job.queued", job_id=job.job_id, kind=spec.kind.value)
        context = contextvars.copy_context()  # the thread pool does not carry contextvars by itself
        self._executor.submit(context.run, self._run, job)
        return job

    def _run(self, job: CollectionJob) -> None:
        with structlog.contextvars.bound_contextvars(job_id=job.job_id):
            self._run_bound(job)

    def _run_bound(self, job: CollectionJob) -> None:
        kind = job.spec.kind.value
        if job.progress.stopping:
            job.state, job.finished_at = JobState.CANCELLED, utc_now()
            _log.info("job.finished", kind=kind, state=job.state.value)
            return
        job.state, job.started_at = JobState.RUNNING, utc_now()
        started = time.perf_counter()
        _log.info("job.started", kind=kind)
        try:
            outcome = execute(job.spec, self.settings, job.progress, job.job_id)
            job.result = outcome.result
            if outcome.stopped:
                job.state = JobState.CANCELLED
            elif outcome.error is not None:
                job.state, job.error = JobState.FAILED, redact_text(str(outcome.error))
            else:
                job.state = JobState.COMPLETED
        except Exception as exc:  # a job thread must never die silently
            job.state, job.error = JobState.FAILED, redact_text(f"{type(exc).__name__}: {exc}")
        finally:
            job.finished_at = utc_now()
            _log.info(
                "job.finished",
                kind=kind,
                state=job.state.value,
                duration_seconds=round(time.perf_counter() - started, 3),
                error=job.error,
            )
            self._on_finished(job)

    def get(self, job_id: str) -> CollectionJob:
        """The job ``job_id``; :class:`NotFoundError` when this process never ran it."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job

    def list(self) -> list[CollectionJob]:
        """The newest jobs first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def cancel(self, job_id: str) -> CollectionJob:
        """Stop the job: a queued one now, a running collection at its next checkpoint."""
        job = self.get(job_id)
        job.progress.stop("cancelled by request")
        if job.state is JobState.QUEUED:
            job.state = JobState.CANCELLED
        return job

    def counts(self) -> dict[str, int]:
        """Jobs per state."""
        counts = {state.value: 0 for state in JobState}
        for job in self.list():
            counts[job.state.value] += 1
        return counts

    def shutdown(self) -> None:
        """Stop every job at its next checkpoint and wait for the thread."""
        for job in self.list():
            job.progress.stop("the service is shutting down")
        self._executor.shutdown(wait=True, cancel_futures=True)


class LocalJobs:
    """:class:`~tubescope.jobs.queue.JobQueue` over a :class:`JobManager` (no Redis)."""

    def __init__(self, manager: JobManager) -> None:
        self.manager = manager

    async def submit(self, spec: JobSpec) -> dict[str, Any]:
        """Run ``spec`` in this process's job thread."""
        return self.manager.submit(spec).to_dict()

    async def get(self, job_id: str) -> dict[str, Any]:
        """The job's record."""
        return self.manager.get(job_id).to_dict()

    async def list(self, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """The newest jobs first."""
        return [job.to_dict() for job in self.manager.list()[:limit]]

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Stop the job."""
        return self.manager.cancel(job_id).to_dict()

    async def counts(self) -> dict[str, int]:
        """Jobs per state."""
        return self.manager.counts()

    async def depth(self) -> int:
        """Jobs queued or running in this process."""
        return sum(j.state in (JobState.QUEUED, JobState.RUNNING) for j in self.manager.list())

    async def aclose(self) -> None:
        """Stop the job thread."""
        self.manager.shutdown()


def is_collect(job: CollectionJob) -> bool:
    """True for a collection job (the ones whose end changes the warehouse)."""
    return job.spec.kind is JobKind.COLLECT
