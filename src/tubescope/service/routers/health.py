"""Liveness, readiness and Prometheus metrics (no auth by default: probes and scrapers carry no
token; ``TUBESCOPE_PUBLIC_METRICS=false`` puts /metrics behind an admin token)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tubescope.errors import TubescopeError
from tubescope.jobs.catalog import last_collections
from tubescope.jobs.queue import RedisJobs
from tubescope.jobs.retention import policy_from
from tubescope.jobs.tokens import Scope
from tubescope.service.state import ServiceState, State, authenticate

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, str]:  # async: a probe must not queue behind busy worker threads
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=None, responses={503: {"description": "The warehouse does not answer"}})
def ready(state: State) -> dict[str, Any] | JSONResponse:
    """Readiness: the warehouse answers and its migrations are current."""
    try:
        facts = state.pool.ready()
    except TubescopeError as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    retention = policy_from(state.settings)
    return {
        "status": "ready",
        **facts,
        "cache_tiers": state.cache.tier_names,
        "cache_warming": state.warmer.progress.to_dict() if state.warmer is not None else None,
        "retention": {**retention.as_dict(), "policy": retention.describe()},
    }


@router.get("/metrics", response_class=Response, responses={401: {}, 403: {}, 429: {}})
async def metrics(request: Request, state: State) -> Response:
    """Prometheus metrics (``TUBESCOPE_PUBLIC_METRICS=false``: an admin token is needed); gauges
    read from the jobs, the quota and the warehouse now."""
    if not state.options.public_metrics:
        await authenticate(request, state, Scope.ADMIN)
    m = state.metrics
    m.set_job_counts(await state.jobs.counts())
    m.set_queue_depth(await state.jobs.depth())
    if isinstance(state.jobs, RedisJobs):  # the workers' jobs: durations and units from Redis
        m.set_job_durations(await state.jobs.durations())
        m.set_quota_spent(await state.jobs.quota_units_spent())
    m.set_quota(await state.quota.left(), state.quota.daily_units)
    m.set_last_collections(await run_in_threadpool(_last_collections, state))
    return Response(m.render(), media_type="text/plain; version=0.0.4")


def _last_collections(state: ServiceState) -> dict[str, datetime]:
    # A warehouse that cannot answer must not take the other metrics down.
    try:
        with state.pool.borrow() as warehouse:
            return last_collections(warehouse)
    except TubescopeError:
        return {}
