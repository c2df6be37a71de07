"""The watch-list scheduler inside ``tubescope serve``: due channels and young videos become watch jobs.

APScheduler's interval trigger runs the tick (missed runs coalesced into one, never two at once).
Every replica runs it; the warehouse's compare-and-set claim hands each due tick to one of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tubescope.errors import TubescopeError
from tubescope.jobs import alerts as alert_jobs
from tubescope.jobs import watch as watch_jobs
from tubescope.jobs.alerts import QuotaFigures
from tubescope.jobs.queue import watch_spec
from tubescope.service.state import ServiceState
from tubescope.youtube.shared_quota import quota_day

_log = structlog.get_logger("tubescope.watch")


async def run_watch_tick(state: ServiceState, now: datetime) -> list[str]:
    """Claim the channels due at ``now`` and queue one watch job for them and for the dense pass
    of ``now``'s hour (none when neither has work); returns the claimed channels' ids."""
    claimed = await asyncio.to_thread(watch_jobs.tick, state.pool.borrow, now)
    young = await asyncio.to_thread(watch_jobs.dense_work, state.pool.borrow, now, state.settings)
    # The hour's dense pass runs once, whichever replica's tick claims it first.
    dense = bool(young) and await asyncio.to_thread(watch_jobs.claim_dense_pass, state.pool.borrow, now)
    if claimed or dense:
        job = await state.jobs.submit(watch_spec(now, claimed, dense=dense))
        _log.info("watch.tick", channels=len(claimed), dense=young if dense else 0, job_id=job.get("job_id"))
    settings = state.settings
    if settings.public_url:  # push for new uploads: keep every watched channel subscribed
        asked = await watch_jobs.renew_subscriptions(
            state.pool.borrow, hub_url=settings.websub_hub, public_url=settings.public_url, now=now
        )
        if asked:
            _log.info("watch.websub_subscribed", channels=len(asked))
    await check_tick_alerts(state, now)
    return claimed


async def check_tick_alerts(state: ServiceState, now: datetime) -> list[str]:
    """Evaluate the rules about the system (quota spent today, failed collections) at ``now``;
    returns the ids of the alerts this replica claimed. Rules about channels run as runs land."""
    quota = QuotaFigures(
        left=await state.quota.left(),
        daily_units=state.quota.daily_units,
        day=quota_day(now).isoformat(),
    )
    fired = await asyncio.to_thread(
        alert_jobs.check,
        state.pool.borrow,
        state.settings,
        channel_ids=[],
        kinds=alert_jobs.TICK_KINDS,
        now=now,
        quota=quota,
    )
    if fired:
        _log.info("watch.alerts", alerts=len(fired))
    return [alert.alert_id for alert in fired]


WATCH_TICK_JOB = "watch-tick"


def tick_when_clock_moves(state: ServiceState, scheduler: AsyncIOScheduler) -> Callable[[], None] | None:
    """On a clock that says when it moves (the emulator's, in the demo), run the watch tick as
    soon as it moves, as the interval timer does when the wall clock reaches the next tick;
    returns the call that stops it (None on the wall clock)."""
    on_change = getattr(state.options.clock, "on_change", None)
    if on_change is None:
        return None

    def wake(_now: datetime) -> None:  # any thread: APScheduler hands it to its event loop
        scheduler.modify_job(WATCH_TICK_JOB, next_run_time=datetime.now(UTC))

    stop: Callable[[], None] = on_change(wake)
    return stop


async def stop_watch_scheduler(
    state: ServiceState, scheduler: AsyncIOScheduler, timeout: float = 30.0
) -> None:
    """Stop the scheduler, then wait (up to ``timeout`` s) for a tick still at work, so the
    warehouse pool is never closed under it."""
    scheduler.shutdown(wait=False)
    work = state.watch_tick_in_flight
    if work is None or work.done():
        return
    done, _ = await asyncio.wait([work], timeout=timeout)
    if work in done and not work.cancelled() and work.exception() is not None:
        _log.warning("watch.tick_failed", error=str(work.exception()))


def watch_scheduler(state: ServiceState) -> AsyncIOScheduler:
    """An (unstarted) scheduler that runs :func:`run_watch_tick` every ``watch_tick_seconds``.

    Each tick reads the service's clock (:meth:`ServiceState.now`), so the same scheduler runs on
    an emulated clock in the demo; the last tick it finished is kept.
    """
    scheduler = AsyncIOScheduler(timezone=UTC)

    async def tick() -> None:
        now = state.now()
        # Shielded: shutting the scheduler down cancels this coroutine, but not the tick's
        # warehouse work in its threads; stop_watch_scheduler waits for that before the pool closes.
        work = asyncio.ensure_future(run_watch_tick(state, now))
        state.watch_tick_in_flight = work
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:  # the service is stopping: it waits for ``work`` itself
            return
        except TubescopeError as exc:  # the warehouse busy or the queue down: the next tick retries
            _log.warning("watch.tick_failed", error=str(exc))
            return
        state.last_watch_tick = now

    scheduler.add_job(
        tick,
        "interval",
        id=WATCH_TICK_JOB,
        seconds=state.options.watch_tick_seconds or state.settings.watch_tick_seconds,
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now(UTC),
    )
    return scheduler
