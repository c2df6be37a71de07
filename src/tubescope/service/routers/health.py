"""Liveness, readiness and Prometheus metrics (no auth by default: probes and scrapers carry no
token; ``TUBESCOPE_PUBLIC_METRICS=false`` puts /metrics behind an admin token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from tubescope.errors import TubescopeError
from tubescope.jobs.retention import policy_from
from tubescope.jobs.tokens import Scope
from tubescope.service.state import State, authenticate

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
        "retention": {**retention.as_dict(), "policy": retention.describe()},
    }


@router.get("/metrics", response_class=Response, responses={401: {}, 403: {}, 429: {}})
async def metrics(request: Request, state: State) -> Response:
    """Prometheus metrics; with ``TUBESCOPE_PUBLIC_METRICS=false`` an admin token is needed."""
    if not state.options.public_metrics:
        authenticate(request, state, Scope.ADMIN)
    for name, count in (await state.jobs.counts()).items():
        state.metrics.jobs.labels(state=name).set(count)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
