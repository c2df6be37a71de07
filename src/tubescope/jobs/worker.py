"""``tubescope worker``: an arq worker that runs queued jobs; start as many as you like.

Each job runs in a thread (the job functions are synchronous) while the worker's event loop
keeps the job's lease: every third of ``job_lease_seconds`` it renews arq's in-progress key,
stores the job's progress in its record and looks for a cancel request. What happens when:

* the job ends: its record says ``completed``, ``failed`` or ``cancelled``, and arq drops it;
* the worker is asked to stop (SIGTERM, SIGINT): a collection stops at its next checkpoint,
  other kinds run to their end; an unfinished job goes back to ``queued`` and arq hands it to the
  next free worker at once;
* the worker is killed (SIGKILL, power): nothing is written, the lease lapses within
  ``job_lease_seconds`` and another worker takes the job up. A collection then resumes its
  unfinished run from the checkpoints (same run id, no row written twice). Killed after its run
  completed but before the job's record said so, the retry finds that run (the record's progress
  names it) and reports it instead of collecting a second time;
* the worker stalls past the lease (a starved machine, a paused VM) and another worker takes the
  job up: when the first wakes, its heartbeat finds the job held by the newer attempt
  (``worker#attempt``), so it records nothing and puts the job back on arq's queue, where it is
  skipped once it has ended. Its collection's writes are refused by the warehouse (the run's
  attempt count fences them: :class:`~tubescope.errors.RunTakenOver`), so no row is stored twice.

Several workers share a warehouse safely on PostgreSQL; on a DuckDB file (one writer at a time)
give each worker its own file, or run one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from typing import Any

import structlog
from arq.worker import Retry, Worker, func

from tubescope.config import Settings
from tubescope.jobs.queue import ARQ_FUNCTION, JobKeys, JobState, Lease, RedisJobs, connect, redis_settings
from tubescope.jobs.runner import JobOutcome, JobProgress, execute
from tubescope.logging import redact_text

_log = logging.getLogger("tubescope.worker")
_events = structlog.get_logger("tubescope.worker")
_SHUTDOWN = "the worker is shutting down"
_CANCELLED = "cancelled by request"
_SUPERSEDED = "another worker took the job over (this worker's lease lapsed)"
_ARQ_TRIES = 10_000  # our own attempt count (job_max_tries) decides when to give up


class QuotaTally:
    """The quota units a job spent that the shared count (:meth:`RedisJobs.quota_units_spent`)
    has not heard of yet: each heartbeat and the job's end hand them over."""

    def __init__(self, progress: JobProgress) -> None:
        self._progress = progress
        self._counted = 0

    def take(self) -> int:
        """Units spent since the last :meth:`take` (they now count as handed over)."""
        used = int(self._progress.counters["quota_used"])
        units, self._counted = used - self._counted, used
        return units

    def give_back(self, units: int) -> None:
        """``units`` from :meth:`take` never reached Redis: hand them over next time."""
        self._counted -= units


def worker_name() -> str:
    """``host:pid``: which worker holds a job, as shown in its record."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_queued_job(ctx: dict[str, Any], job_id: str) -> str:
    """arq's entry point for every job: claim it, run it in a thread under a lease, record the end."""
    jobs: RedisJobs = ctx["jobs"]
    settings: Settings = ctx["settings"]
    queued = await jobs.spec(job_id)
    lock = queued.run_lock if queued is not None else None
    if lock is not None and not await jobs.take_lock(lock, job_id, settings.job_lease_seconds):
        # Another job is collecting the same channels (the same run): wait on the queue.
        raise Retry(defer=max(1.0, settings.job_lease_seconds / 3))
    superseded = False
    try:
        return await _run_claimed(jobs, settings, job_id)
    except _Superseded:
        # The lock and arq's in-progress key are the newer attempt's now. The job goes back on
        # arq's queue (not dropped from it): should the newer attempt's worker die too, the job
        # is still there for the next one; once it has ended, the retry finds it final and skips.
        superseded = True
        raise Retry(defer=settings.job_lease_seconds) from None
    finally:
        if lock is not None and not superseded:
            await asyncio.shield(jobs.drop_lock(lock, job_id))


class _Superseded(Exception):
    """This attempt's lease lapsed and another worker claimed the job: record nothing."""


async def _run_claimed(jobs: RedisJobs, settings: Settings, job_id: str) -> str:
    # Bound for this task (the job's thread gets a copy): every line of the job names the request
    # that started it, as in the service's own job thread.
    request_id = await jobs.request_id(job_id)
    structlog.contextvars.bind_contextvars(job_id=job_id)
    if request_id is not None:
        structlog.contextvars.bind_contextvars(request_id=request_id)
    claim = await jobs.claim(job_id, worker_name(), settings.job_max_tries)
    if claim is None:
        return "skipped"
    spec, holder = claim.spec, claim.holder
    _events.info("job.started", kind=spec.kind.value, holder=holder)
    progress = JobProgress(earlier_run_id=claim.earlier_run_id)
    tally = QuotaTally(progress)
    lease = asyncio.create_task(
        _keep_lease(jobs, job_id, holder, spec.run_lock, progress, tally, settings.job_lease_seconds)
    )
    running = asyncio.ensure_future(asyncio.to_thread(execute, spec, settings, progress, job_id))
    try:
        outcome = await _wait_through_shutdown(running, progress)
    except Exception as exc:  # a job must never leave its record running
        lease.cancel()
        error = f"{type(exc).__name__}: {exc}"
        await jobs.finish(
            job_id, JobState.FAILED, None, error, progress.snapshot(), tally.take(), holder=holder
        )
        raise
    finally:
        lease.cancel()
    return await _record(jobs, job_id, holder, outcome, progress, tally)


async def _wait_through_shutdown(running: asyncio.Future[JobOutcome], progress: JobProgress) -> JobOutcome:
    """The job's outcome; a cancel of this task (shutdown) asks the job to stop and still waits."""
    while True:
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            if running.done():
                raise
            progress.stop(_SHUTDOWN)
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()


async def _record(
    jobs: RedisJobs, job_id: str, holder: str, outcome: JobOutcome, progress: JobProgress, tally: QuotaTally
) -> str:
    counters = progress.snapshot()
    if outcome.stopped and progress.stop_reason == _SUPERSEDED:
        await jobs.add_quota_units(tally.take())
        raise _Superseded
    if outcome.stopped and progress.stop_reason == _SHUTDOWN:
        if not await jobs.requeue(job_id, counters, tally.take(), holder=holder):
            raise _Superseded
        raise asyncio.CancelledError  # arq keeps the job queued for the next worker
    if outcome.stopped:
        state, error = JobState.CANCELLED, None
    elif outcome.error is not None:
        state, error = JobState.FAILED, redact_text(str(outcome.error))
    else:
        state, error = JobState.COMPLETED, None
    if not await jobs.finish(job_id, state, outcome.result, error, counters, tally.take(), holder=holder):
        # Its lease lapsed between the last heartbeat and the end: the newer attempt records it.
        _events.warning("job.superseded", outcome=state.value)
        raise _Superseded
    return state.value


async def _keep_lease(
    jobs: RedisJobs,
    job_id: str,
    holder: str,
    lock: str | None,
    progress: JobProgress,
    tally: QuotaTally,
    lease_seconds: float,
) -> None:
    interval = lease_seconds / 3
    while True:
        units = tally.take()
        try:
            lease = await jobs.heartbeat(job_id, holder, lease_seconds, progress.snapshot(), units)
            units = 0
            if lease is Lease.LOST:
                # Stalled past the lease (a starved machine): another worker runs the job now. A
                # collection stops at its next write; the warehouse refuses this attempt's rows
                # once the other has resumed the run (RunTakenOver), so nothing is stored twice.
                _events.warning("job.lease_lost", holder=holder)
                progress.stop(_SUPERSEDED)
                return
            if lease is Lease.CANCEL_ASKED:
                progress.stop(_CANCELLED)
            if lock is not None:
                await jobs.renew_lock(lock, job_id, lease_seconds)
        except Exception:  # Redis gone for a moment: try again next beat; the job keeps running
            tally.give_back(units)
            _log.warning("worker.heartbeat_failed", exc_info=True)
        await asyncio.sleep(interval)


async def _startup(ctx: dict[str, Any]) -> None:
    ctx["jobs"] = RedisJobs(ctx["redis"], ctx["settings"].redis_prefix)


def build_worker(settings: Settings, *, burst: bool = False, concurrency: int | None = None) -> Worker:
    """An arq worker over ``settings.redis_url`` running tubescope jobs (not started)."""
    if not settings.redis_url:
        from tubescope.errors import ConfigError

        raise ConfigError(
            "the worker needs Redis: set TUBESCOPE_REDIS_URL (for example redis://localhost:6379/0)"
        )
    return Worker(
        functions=[
            func(
                run_queued_job,
                name=ARQ_FUNCTION,
                timeout=settings.job_timeout_seconds,
                max_tries=_ARQ_TRIES,
            )
        ],
        queue_name=JobKeys(settings.redis_prefix).queue,
        redis_settings=redis_settings(settings.redis_url),
        on_startup=_startup,
        max_jobs=concurrency or settings.worker_concurrency,
        burst=burst,
        poll_delay=0.25,
        keep_result=60,
        job_serializer=lambda value: json.dumps(value).encode(),
        job_deserializer=json.loads,
        ctx={"settings": settings},
    )


def run_worker(settings: Settings, *, burst: bool = False, concurrency: int | None = None) -> None:
    """Run jobs until SIGTERM/SIGINT (or, with ``burst``, until the queue is empty)."""
    worker = build_worker(settings, burst=burst, concurrency=concurrency)
    # Fail with a readable error, not arq's start-up retries, when Redis is not there.
    assert settings.redis_url is not None
    worker.loop.run_until_complete(_probe(settings.redis_url))
    worker.run()


async def _probe(url: str) -> None:
    pool = await connect(url)
    await pool.aclose()
