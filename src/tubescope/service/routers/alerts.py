"""Alerts: what fired (newest first), the rules, and an on-demand check of the watch list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from starlette.concurrency import run_in_threadpool

from tubescope.config import AlertRuleSettings
from tubescope.jobs import alerts as alert_jobs
from tubescope.jobs.common import resolve_stored_channel, utc_now
from tubescope.service.state import AdminToken, ReadToken, State, WarehouseDep
from tubescope.warehouse.alerts import list_alerts

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("")
async def get_alerts(
    _: ReadToken,
    warehouse: WarehouseDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    channel: Annotated[str | None, Query(description="A collected channel's UC… id or @handle")] = None,
    rule: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """The alerts that fired, newest first: what happened, the number, the channel's link, and how
    each delivery (webhook, e-mail) went."""
    channel_id = resolve_stored_channel(warehouse, channel) if channel else None
    found = list_alerts(warehouse, limit=limit, channel_id=channel_id, rule=rule)
    return {"items": [alert.as_dict() for alert in found]}


@router.get("/rules")
async def get_rules(_: ReadToken, state: State, warehouse: WarehouseDep) -> dict[str, Any]:
    """Every active rule: from ``tubescope.toml`` (``source: settings``) and added here (``rest``)."""
    return {"items": [row.as_dict() for row in alert_jobs.rule_rows(state.settings, warehouse)]}


@router.post("/rules", status_code=status.HTTP_201_CREATED)
async def post_rule(
    body: AlertRuleSettings, _: AdminToken, state: State, warehouse: WarehouseDep
) -> dict[str, Any]:
    """Add (or replace) a rule; one set in ``tubescope.toml`` is changed there (422)."""
    row = alert_jobs.add_rule(warehouse, state.settings, body.model_dump(), at=utc_now())
    return row.as_dict()


@router.delete("/rules/{name}")
async def delete_rule(name: str, _: AdminToken, state: State, warehouse: WarehouseDep) -> dict[str, Any]:
    """Remove a rule added through REST."""
    alert_jobs.remove_rule(warehouse, state.settings, name)
    return {"name": name, "removed": True}


@router.post("/check")
async def post_check(_: AdminToken, state: State) -> dict[str, Any]:
    """Evaluate every rule over the watched channels now (as runs landing do) and deliver what is
    new; returns the alerts this call fired (none when everything was already sent)."""
    fired = await run_in_threadpool(alert_jobs.check, state.pool.borrow, state.settings)
    return {"items": [alert.as_dict() for alert in fired]}
