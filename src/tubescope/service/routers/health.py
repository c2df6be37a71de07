"""Liveness, readiness and Prometheus metrics (no auth: probes and scrapers carry no token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from tubescope.errors import TubescopeError
from tubescope.jobs.retention import policy_from
from tubescope.service.state import State

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health() -> dict[str, str]:  # async: a probe must not queue behind busy worker threads
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
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


@router.get("/metrics", response_class=Response)
async def metrics(state: State) -> Response:
    for name, count in (await state.jobs.counts()).items():
        state.metrics.jobs.labels(state=name).set(count)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
