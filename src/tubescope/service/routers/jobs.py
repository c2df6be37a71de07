"""Collection jobs: start, watch progress, cancel, read the result."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from tubescope.service.state import ReadToken, State, WriteToken

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


class StartJob(BaseModel):
    refs: list[str] = Field(min_length=1, max_length=50)
    full: bool = False
    budget: int | None = Field(default=None, ge=1, le=10_000_000)


@router.post("", status_code=status.HTTP_202_ACCEPTED)
def start_job(body: StartJob, _: WriteToken, state: State) -> dict[str, Any]:
    return state.jobs.start(body.refs, full=body.full, budget=body.budget).to_dict()


@router.get("")
def list_jobs(_: ReadToken, state: State) -> dict[str, Any]:
    items = [job.to_dict() for job in state.jobs.list()]
    return {"items": items, "total": len(items)}


@router.get("/{job_id}")
def get_job(job_id: str, _: ReadToken, state: State) -> dict[str, Any]:
    return state.jobs.get(job_id).to_dict()


@router.delete("/{job_id}")
def cancel_job(job_id: str, _: WriteToken, state: State) -> dict[str, Any]:
    return state.jobs.cancel(job_id).to_dict()
