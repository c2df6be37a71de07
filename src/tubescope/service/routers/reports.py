"""The executive report of a channel as a self-contained HTML download."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from tubescope.jobs.report import write_report
from tubescope.service.state import ReadToken, State

router = APIRouter(prefix="/v1", tags=["reports"])


@router.get("/channels/{ref}/report", response_class=HTMLResponse)
def report(
    ref: str,
    _: ReadToken,
    state: State,
    peer: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    with tempfile.TemporaryDirectory(prefix="tubescope-report-") as folder:
        out = Path(folder) / "report.html"
        outcome = write_report(state.options.db_path, ref, out, peers=peer or ())
        page = out.read_text(encoding="utf-8")
    filename = f"tubescope-{outcome.channel_id}.html"
    return HTMLResponse(page, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
