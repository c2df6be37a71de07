"""Channels, their videos, KPIs, analyses, A/B tests and peer comparisons."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from tubescope.jobs import catalog
from tubescope.jobs.common import resolve_stored_channel
from tubescope.service.state import ReadToken, State, WarehouseDep, WriteToken

router = APIRouter(prefix="/v1", tags=["channels"])

RefPath = Annotated[str, "A collected channel's UC… id or @handle"]


class AddChannel(BaseModel):
    ref: str = Field(min_length=1, max_length=300, description="UC… id, @handle or YouTube URL")
    full: bool = False


class AbTestRequest(BaseModel):
    group_a: str = Field(min_length=1, max_length=500, examples=["title contains '?'"])
    group_b: str | None = Field(default=None, max_length=500, description="Default: every other video")


@router.get("/channels")
def list_channels(_: ReadToken, warehouse: WarehouseDep) -> dict[str, Any]:
    items = catalog.list_channels(warehouse)
    return {"items": items, "total": len(items)}


@router.post("/channels", status_code=status.HTTP_202_ACCEPTED)
def add_channel(body: AddChannel, _: WriteToken, state: State) -> dict[str, Any]:
    """Start collecting a channel; follow the returned job under /v1/jobs/{job_id}."""
    return state.jobs.start([body.ref], full=body.full).to_dict()


@router.get("/channels/{ref}")
def get_channel(ref: RefPath, _: ReadToken, warehouse: WarehouseDep) -> dict[str, Any]:
    row = catalog.channel_row(warehouse, ref)
    return {**row, "kpis": catalog.channel_kpis(warehouse, ref)}


@router.get("/channels/{ref}/videos")
def list_videos(
    ref: RefPath,
    _: ReadToken,
    warehouse: WarehouseDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: Annotated[
        Literal["published_at", "view_count", "like_count", "comment_count", "duration_seconds", "title"],
        Query(),
    ] = "published_at",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    where: Annotated[
        str | None, Query(max_length=500, description="e.g. format = short and views > 1000")
    ] = None,
) -> dict[str, Any]:
    result = catalog.list_videos(
        warehouse, ref, page=page, page_size=page_size, sort=sort, descending=order == "desc", where=where
    )
    return {"items": result.items, "total": result.total, "page": result.page, "page_size": result.page_size}


@router.get("/channels/{ref}/analysis")
def get_analysis(ref: RefPath, _: ReadToken, state: State, warehouse: WarehouseDep) -> dict[str, Any]:
    """Every analysis of the channel (derived metrics); cached until a new run lands for it."""
    channel_id = resolve_stored_channel(warehouse, ref)
    hit, cached = state.cache.get(channel_id, "analysis")
    if hit:
        state.metrics.cache_hits.inc()
        result: dict[str, Any] = cached
        return result
    state.metrics.cache_misses.inc()
    result = catalog.channel_analysis(warehouse, channel_id).to_dict()
    state.cache.put(channel_id, "analysis", result)
    return result


@router.post("/channels/{ref}/abtests")
def ab_test(ref: RefPath, body: AbTestRequest, _: ReadToken, warehouse: WarehouseDep) -> dict[str, Any]:
    """Compare two groups of the channel's videos chosen with the safe filter language."""
    return catalog.channel_ab_test(warehouse, ref, body.group_a, body.group_b).to_dict()


@router.get("/compare")
def compare(
    _: ReadToken,
    warehouse: WarehouseDep,
    channel: Annotated[list[str], Query(min_length=2, max_length=20, description="Two or more channels")],
) -> dict[str, Any]:
    results = catalog.peer_comparison(warehouse, channel)
    return {"items": [r.to_dict() for r in results], "derived": True}
