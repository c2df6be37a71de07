"""Collection jobs started by the service: run in a worker thread, progress visible, cancellable."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from tubescope.config import Settings
from tubescope.errors import NotFoundError, TubescopeError
from tubescope.jobs.collect import collect, parse_refs
from tubescope.jobs.common import utc_now
from tubescope.logging import redact_text


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobCancelled(TubescopeError):
    """Raised inside a running collection when its job was cancelled; the run stops at a checkpoint."""


@dataclass
class CollectionJob:
    job_id: str
    refs: tuple[str, ...]
    created_at: datetime
    state: JobState = JobState.QUEUED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    channels_total: int = 0
    channels_done: int = 0
    videos_expected: int = 0
    videos_stored: int = 0
    pages_walked: int = 0
    quota_used: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "refs": list(self.refs),
            "state": self.state.value,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "progress": {
                "channels_total": self.channels_total,
                "channels_done": self.channels_done,
                "videos_expected": self.videos_expected,
                "videos_stored": self.videos_stored,
                "pages_walked": self.pages_walked,
                "quota_used": self.quota_used,
            },
            "result": self.result,
            "error": self.error,
        }


class _JobProgress:
    """Feeds the pipeline's progress events into the job record and honours cancellation."""

    def __init__(self, job: CollectionJob, on_quota: Callable[[int], None]) -> None:
        self.job = job
        self._on_quota = on_quota

    def _check(self) -> None:
        if self.job.cancel_requested.is_set():
            raise JobCancelled(f"collection job {self.job.job_id} was cancelled")

    def channel_started(self, channel_id: str, title: str, expected_videos: int) -> None:
        self.job.videos_expected += expected_videos
        self._check()

    def page_walked(self, channel_id: str) -> None:
        self.job.pages_walked += 1
        self._check()

    def videos_stored(self, channel_id: str, count: int) -> None:
        self.job.videos_stored += count
        self._check()

    def quota_spent(self, units: int) -> None:
        self.job.quota_used += units
        self._on_quota(units)

    def channel_finished(self, channel_id: str) -> None:
        self.job.channels_done += 1


class JobManager:
    """Runs collections one at a time (the warehouse has a single writer) in a background thread."""

    def __init__(
        self,
        db_path: Path,
        settings: Settings,
        *,
        on_finished: Callable[[CollectionJob], None] = lambda _job: None,
        on_quota: Callable[[int], None] = lambda _units: None,
    ) -> None:
        self.db_path = db_path
        self.settings = settings
        self._on_finished = on_finished
        self._on_quota = on_quota
        self._jobs: dict[str, CollectionJob] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collect")
        self._lock = threading.Lock()

    def start(self, refs: Sequence[str], *, full: bool = False, budget: int | None = None) -> CollectionJob:
        parse_refs(refs)  # a typo is a 422 now, not a failed job later
        job = CollectionJob(job_id=secrets.token_hex(8), refs=tuple(refs), created_at=utc_now())
        job.channels_total = len(refs)
        with self._lock:
            self._jobs[job.job_id] = job
        self._executor.submit(self._run, job, full, budget)
        return job

    def _run(self, job: CollectionJob, full: bool, budget: int | None) -> None:
        if job.cancel_requested.is_set():
            job.state, job.finished_at = JobState.CANCELLED, utc_now()
            return
        job.state, job.started_at = JobState.RUNNING, utc_now()
        try:
            summary = collect(
                job.refs,
                db_path=self.db_path,
                full=full,
                budget=budget,
                settings=self.settings,
                progress=_JobProgress(job, self._on_quota),
            )
            job.result = summary.as_dict()
            if summary.exit_error is not None:
                raise summary.exit_error
            job.state = JobState.COMPLETED
        except JobCancelled:
            job.state = JobState.CANCELLED
        except TubescopeError as exc:
            job.state, job.error = JobState.FAILED, redact_text(str(exc))
        except Exception as exc:  # a job thread must never die silently
            job.state, job.error = JobState.FAILED, redact_text(f"{type(exc).__name__}: {exc}")
        finally:
            job.finished_at = utc_now()
            self._on_finished(job)

    def get(self, job_id: str) -> CollectionJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no collection job {job_id}")
        return job

    def list(self) -> list[CollectionJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def cancel(self, job_id: str) -> CollectionJob:
        job = self.get(job_id)
        job.cancel_requested.set()
        if job.state is JobState.QUEUED:
            job.state = JobState.CANCELLED
        return job

    def counts(self) -> dict[str, int]:
        counts = {state.value: 0 for state in JobState}
        for job in self.list():
            counts[job.state.value] += 1
        return counts

    def shutdown(self) -> None:
        for job in self.list():
            job.cancel_requested.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
