"""The executive report of a channel as a self-contained HTML download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from tubescope.jobs.report import render_report
from tubescope.service.state import ReadToken, WarehouseDep

router = APIRouter(prefix="/v1", tags=["reports"])


@router.get("/channels/{ref}/report", response_class=HTMLResponse)
def report(
    ref: str,
    _: ReadToken,
    warehouse: WarehouseDep,
    peer: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    rendered = render_report(warehouse, ref, peers=peer or ())
    filename = f"tubescope-{rendered.channel_id}.html"
    return HTMLResponse(rendered.html, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
