"""The executive report of a channel as a self-contained HTML download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from tubescope.cache import FLEET, TEXT
from tubescope.jobs import catalog
from tubescope.jobs.report import render_report
from tubescope.service.state import ReadToken, State, WarehouseDep

router = APIRouter(prefix="/v1", tags=["reports"])


@router.get("/channels/{ref}/report", response_class=HTMLResponse)
def report(
    ref: str,
    _: ReadToken,
    state: State,
    warehouse: WarehouseDep,
    peer: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """The report page, from the cache tiers until a run lands (the dashboard shows the same page)."""
    channel_id = catalog.resolve_channel(warehouse, ref)
    peers = tuple(peer or ())
    # with peers the page depends on other channels too: filed under the fleet
    owner, key = (FLEET, ("report-page", channel_id, peers)) if peers else (channel_id, "report-page")
    html = state.cache.get_or_compute(
        owner, key, lambda: render_report(warehouse, channel_id, peers=peers).html, TEXT
    )[1]
    filename = f"tubescope-{channel_id}.html"
    return HTMLResponse(html, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
