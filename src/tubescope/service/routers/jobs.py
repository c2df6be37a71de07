"""Jobs: start (collect, train, report, export), watch progress, cancel, read the result.

With ``TUBESCOPE_REDIS_URL`` jobs go on the durable queue and any replica answers for any job;
without it the service runs them itself.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, model_validator

from tubescope.errors import ConfigError
from tubescope.jobs.common import all_channel_ids
from tubescope.jobs.queue import JobKind, JobSpec, collect_spec
from tubescope.service.state import ReadToken, State, WriteToken

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

MAX_REFS = 100_000


class StartJob(BaseModel):
    """The body of a request to start a job."""

    kind: JobKind = JobKind.COLLECT
    refs: list[str] = Field(default_factory=list, max_length=MAX_REFS)
    refresh: Literal["all"] | None = None
    """``"all"``: collect every channel the warehouse knows (a collect job; no refs needed)."""
    full: bool = False
    budget: int | None = Field(default=None, ge=1, le=10_000_000)
    horizon_days: float = Field(default=7.0, gt=0, le=365)
    channel: str | None = None
    peers: list[str] = Field(default_factory=list, max_length=50)
    format: str | None = None
    tables: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _one_source(self) -> StartJob:
        if self.kind is JobKind.WATCH:
            raise ValueError("watch jobs are started by the scheduler: use /v1/watches")
        if self.kind is JobKind.COLLECT and not self.refs and self.refresh is None:
            raise ValueError('a collect job needs "refs" or "refresh": "all"')
        if self.refs and self.refresh is not None:
            raise ValueError('give either "refs" or "refresh", not both')
        return self


def _spec(body: StartJob, state: State) -> JobSpec:
    if body.kind is JobKind.COLLECT:
        refs = body.refs
        if body.refresh == "all":
            with state.pool.borrow() as warehouse:
                refs = all_channel_ids(warehouse)
            if not refs:
                raise ConfigError("the warehouse knows no channel yet: add one first")
        return collect_spec(refs, full=body.full, budget=body.budget)
    if body.kind is JobKind.TRAIN:
        return JobSpec(JobKind.TRAIN, {"horizon_days": body.horizon_days})
    if body.kind is JobKind.REPORT:
        params: dict[str, Any] = {"channel": body.channel or "", "peers": body.peers}
        return JobSpec(JobKind.REPORT, {**params, "format": body.format or "html"})
    return JobSpec(JobKind.EXPORT, {"format": body.format or "parquet", "tables": body.tables})


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def start_job(body: StartJob, _: WriteToken, state: State) -> dict[str, Any]:
    """Start a background job."""
    return await state.jobs.submit(_spec(body, state).validated())


@router.get("")
async def list_jobs(_: ReadToken, state: State) -> dict[str, Any]:
    """List the background jobs."""
    items = await state.jobs.list()
    return {"items": items, "total": len(items)}


@router.get("/{job_id}")
async def get_job(job_id: str, _: ReadToken, state: State) -> dict[str, Any]:
    """One background job's state and progress."""
    return await state.jobs.get(job_id)


@router.delete("/{job_id}")
async def cancel_job(job_id: str, _: WriteToken, state: State) -> dict[str, Any]:
    """Cancel a background job."""
    return await state.jobs.cancel(job_id)
