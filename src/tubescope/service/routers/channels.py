"""Channels, their videos, KPIs, analyses, A/B tests and peer comparisons."""

from __future__ import annotations

import functools
import gzip
import struct
from collections.abc import Callable, Hashable
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

import pandas as pd
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, TypeAdapter
from starlette.concurrency import run_in_threadpool

from tubescope.cache import Codec
from tubescope.jobs import catalog
from tubescope.jobs.queue import collect_spec
from tubescope.service.cache import FLEET
from tubescope.service.state import ReadToken, ServiceState, State, WarehouseDep, WriteToken
from tubescope.warehouse.repository import Warehouse

router = APIRouter(prefix="/v1", tags=["channels"])

RefPath = Annotated[str, "A collected channel's UC… id or @handle"]

_ANY_JSON: TypeAdapter[Any] = TypeAdapter(Any)
T = TypeVar("T")


GZIP_FROM_BYTES = 32 * 1024
"""Bodies this large are kept gzipped too (an analysis is ~0.4 MB of JSON and ~60 kB gzipped)."""


class Encoded(NamedTuple):
    """A JSON body, kept in the cache so a hit costs no serialisation or compression."""

    raw: bytes
    gzipped: bytes | None


def _pack(body: Encoded) -> bytes:
    """``len(raw)`` in 4 bytes, the raw body, then the gzipped one (if any)."""
    return struct.pack(">I", len(body.raw)) + body.raw + (body.gzipped or b"")


def _unpack(data: bytes) -> Encoded:
    (size,) = struct.unpack_from(">I", data)
    if len(data) < 4 + size:
        raise ValueError("truncated cache entry")
    return Encoded(data[4 : 4 + size], data[4 + size :] or None)


ENCODED: Codec[Encoded] = Codec(_pack, _unpack)
"""How a JSON body goes to the shared cache tiers (Redis, disk) and back."""


def _encoded(value: Any, *, compress: bool = True) -> Encoded:
    raw = _ANY_JSON.dump_json(value)
    gzipped = gzip.compress(raw, 6, mtime=0) if compress and len(raw) >= GZIP_FROM_BYTES else None
    return Encoded(raw, gzipped)


def _json(request: Request, body: Encoded) -> Response:
    if body.gzipped is None:
        return Response(body.raw, media_type="application/json")
    headers = {"Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(body.gzipped, media_type="application/json", headers=headers)
    return Response(body.raw, media_type="application/json", headers=headers)


class AddChannel(BaseModel):
    """The body of a request to add a channel."""

    ref: str = Field(min_length=1, max_length=300, description="UC… id, @handle or YouTube URL")
    full: bool = False


class AbTestRequest(BaseModel):
    """The body of an A/B test request: two groups given as query expressions."""

    group_a: str = Field(min_length=1, max_length=500, examples=["title contains '?'"])
    group_b: str | None = Field(default=None, max_length=500, description="Default: every other video")


async def _cached(
    state: ServiceState,
    channel_id: str,
    key: Hashable,
    compute: Callable[[], T],
    codec: Codec[T] | None = None,
) -> tuple[bool, T]:
    """A memory hit answered on the event loop; only a miss (which reads Redis or the disk
    tier, or reads the warehouse and computes) takes a worker thread. The read routes are
    ``async`` for this: a hit is a few microseconds of work, and a thread hop per request costs
    more than that under load. With a ``codec`` the answer is shared through the lower tiers."""
    hit, value = state.cache.get(channel_id, key)
    if hit:
        return True, value
    return await run_in_threadpool(state.cache.get_or_compute, channel_id, key, compute, codec)


async def _channel_id(state: ServiceState, warehouse: Warehouse, ref: str) -> str:
    """The stored channel ``ref`` names, remembered until data lands: every request starts here."""
    return (await _cached(state, FLEET, ("ref", ref), lambda: catalog.resolve_channel(warehouse, ref)))[1]


def _kpi_source(state: ServiceState, warehouse: Warehouse) -> catalog.KpiSource:
    """Per-channel KPI rows from the cache: they change only when a run lands (or the TTL ends)."""

    def kpi_table(channel_id: str) -> pd.DataFrame:
        return state.cache.get_or_compute(
            channel_id, "kpis", lambda: catalog.channel_kpi_table(warehouse, channel_id)
        )[1]

    return kpi_table


@router.get("/channels", response_model=dict[str, Any])
async def list_channels(request: Request, _: ReadToken, state: State, warehouse: WarehouseDep) -> Response:
    """List the channels in the warehouse."""

    def listing() -> Encoded:
        items = catalog.list_channels(warehouse)
        return _encoded({"items": items, "total": len(items)})

    return _json(request, (await _cached(state, FLEET, "channels", listing, ENCODED))[1])


@router.post("/channels", status_code=status.HTTP_202_ACCEPTED)
async def add_channel(body: AddChannel, _: WriteToken, state: State) -> dict[str, Any]:
    """Start collecting a channel; follow the returned job under /v1/jobs/{job_id}."""
    return await state.jobs.submit(collect_spec([body.ref], full=body.full))


@router.get("/channels/{ref}", response_model=dict[str, Any])
async def get_channel(
    ref: RefPath, request: Request, _: ReadToken, state: State, warehouse: WarehouseDep
) -> Response:
    """One channel's details and KPIs."""
    channel_id = await _channel_id(state, warehouse, ref)

    def detail() -> Encoded:
        row = catalog.channel_row(warehouse, channel_id)
        kpis = catalog.channel_kpis(warehouse, channel_id, kpi_table=_kpi_source(state, warehouse))
        return _encoded({**row, "kpis": kpis})

    return _json(request, (await _cached(state, channel_id, "detail", detail, ENCODED))[1])


@router.get("/channels/{ref}/videos", response_model=dict[str, Any])
async def list_videos(
    ref: RefPath,
    request: Request,
    _: ReadToken,
    state: State,
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
) -> Response:
    """A page of a channel's videos, filtered and sorted."""
    channel_id = await _channel_id(state, warehouse, ref)
    videos: catalog.ChannelVideos = (
        await _cached(state, channel_id, "videos", lambda: catalog.channel_videos(warehouse, channel_id))
    )[1]
    cut = functools.partial(
        videos.page, page=page, page_size=page_size, sort=sort, descending=order == "desc", where=where
    )
    # A new filter is a few pandas operations (milliseconds): off the event loop. A page with a
    # filter seen before, or none, is index work.
    result = await run_in_threadpool(cut) if where and not videos.has_filter(where) else cut()
    body = {"items": result.items, "total": result.total, "page": result.page, "page_size": result.page_size}
    return _json(request, _encoded(body, compress=False))


@router.get("/channels/{ref}/analysis", response_model=dict[str, Any])
async def get_analysis(
    ref: RefPath, request: Request, _: ReadToken, state: State, warehouse: WarehouseDep
) -> Response:
    """Every analysis of the channel (derived metrics); cached until a new run lands for it."""
    channel_id = await _channel_id(state, warehouse, ref)
    hit, body = await _cached(
        state,
        channel_id,
        "analysis",
        lambda: _encoded(catalog.channel_analysis(warehouse, channel_id).to_dict()),
        ENCODED,
    )
    (state.metrics.cache_hits if hit else state.metrics.cache_misses).inc()
    return _json(request, body)


@router.post("/channels/{ref}/abtests")
def ab_test(ref: RefPath, body: AbTestRequest, _: ReadToken, warehouse: WarehouseDep) -> dict[str, Any]:
    """Compare two groups of the channel's videos chosen with the safe filter language."""
    return catalog.channel_ab_test(warehouse, ref, body.group_a, body.group_b).to_dict()


@router.get("/compare", response_model=dict[str, Any])
async def compare(
    request: Request,
    _: ReadToken,
    state: State,
    warehouse: WarehouseDep,
    channel: Annotated[list[str], Query(min_length=2, max_length=20, description="Two or more channels")],
) -> Response:
    """Each channel's KPIs as percentiles among the others; a peer set is cached until data lands."""

    ids = tuple(dict.fromkeys([await _channel_id(state, warehouse, ref) for ref in channel]))

    def comparison() -> Encoded:
        results = catalog.peer_comparison(warehouse, ids, kpi_table=_kpi_source(state, warehouse))
        return _encoded({"items": [r.to_dict() for r in results], "derived": True})

    return _json(request, (await _cached(state, FLEET, ("compare", ids), comparison, ENCODED))[1])
