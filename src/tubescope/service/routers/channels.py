"""Channels, their videos, KPIs, analyses, A/B tests and peer comparisons."""

from __future__ import annotations

import functools
import gzip
import struct
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

import orjson
import pandas as pd
from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, TypeAdapter
from starlette.concurrency import run_in_threadpool

from tubescope.analysis.benchmark import PeerTable, compare_peers, peer_table
from tubescope.cache import Codec
from tubescope.jobs import catalog
from tubescope.jobs.common import newest_observation as newest_stored_observation
from tubescope.jobs.queue import collect_spec
from tubescope.service.cache import FLEET
from tubescope.service.state import ReadToken, ServiceState, State, WarehouseDep, WriteToken

router = APIRouter(prefix="/v1", tags=["channels"])

RefPath = Annotated[str, "A collected channel's UC… id or @handle"]

_ANY_JSON: TypeAdapter[Any] = TypeAdapter(Any)
T = TypeVar("T")


INLINE_FILTER_VIDEOS = 20_000
"""A new video filter over a channel this size or smaller is evaluated on the event loop."""

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


# The answers below are computed by one function each, which both the routes and the cache
# warmer (:mod:`tubescope.service.warming`) call: a warmed entry is the very entry a request
# reads. Each borrows the warehouse only when it computes, so a cache hit touches no database.


def resolved_id(state: ServiceState, ref: str) -> tuple[Hashable, Callable[[], str]]:
    """The cache key and computation of the stored channel id ``ref`` names."""

    def resolve() -> str:
        with state.pool.borrow() as warehouse:
            return catalog.resolve_channel(warehouse, ref)

    return ("ref", ref), resolve


def _kpi_source(state: ServiceState, *, record: bool = True) -> catalog.KpiSource:
    """Per-channel KPI rows from the cache: they change only when a run lands (or the TTL ends)."""

    def kpi_table(channel_id: str) -> pd.DataFrame:
        compute = functools.partial(_kpi_table, state, channel_id)
        return state.cache.get_or_compute(channel_id, "kpis", compute, record=record)[1]

    return kpi_table


def _kpi_table(state: ServiceState, channel_id: str) -> pd.DataFrame:
    with state.pool.borrow() as warehouse:
        return catalog.channel_kpi_table(warehouse, channel_id)


NEWEST = "newest_observation"
"""The FLEET cache key of the newest observation in the warehouse (staleness is judged against it)."""


def newest_observation(state: ServiceState, *, record: bool = True) -> datetime | None:
    """The newest channel snapshot's time, cached until data lands (each comparison reads it)."""

    def newest() -> datetime | None:
        with state.pool.borrow() as warehouse:
            return newest_stored_observation(warehouse)

    return state.cache.get_or_compute(FLEET, NEWEST, newest, record=record)[1]


def peer_row(state: ServiceState, channel_id: str, *, record: bool = True) -> PeerTable:
    """The channel's fleet-KPI row prepared for comparisons, cached until its data changes."""
    table = functools.partial(_kpi_source(state, record=record), channel_id)
    prepare = lambda: peer_table(table())  # noqa: E731 -- a one-line computation for the cache
    return state.cache.get_or_compute(channel_id, "peer_row", prepare, record=record)[1]


def peer_answer(state: ServiceState, ids: Sequence[str]) -> Encoded:
    """``GET /v1/compare``'s body for the stored channel ids ``ids`` (distinct, two or more)."""
    table = PeerTable.combine([peer_row(state, channel_id) for channel_id in ids])
    results = compare_peers(table, ids, reference=newest_observation(state))
    return _encoded({"items": [r.to_dict() for r in results], "derived": True})


def channel_listing(state: ServiceState) -> Encoded:
    """``GET /v1/channels``'s body."""
    with state.pool.borrow() as warehouse:
        items = catalog.list_channels(warehouse)
    return _encoded({"items": items, "total": len(items)})


def channel_detail(state: ServiceState, channel_id: str, *, record: bool = True) -> Encoded:
    """``GET /v1/channels/{id}``'s body: the stored row and the channel's KPIs."""
    table = _kpi_source(state, record=record)(channel_id)  # before borrowing: a borrow never nests in another
    with state.pool.borrow() as warehouse:
        row = catalog.channel_row(warehouse, channel_id)
        kpis = catalog.channel_kpis(warehouse, channel_id, kpi_table=lambda _: table)
    return _encoded({**row, "kpis": kpis})


def channel_videos(state: ServiceState, channel_id: str) -> catalog.ChannelVideos:
    """The channel's videos made ready for paging (``GET /v1/channels/{id}/videos``)."""
    with state.pool.borrow() as warehouse:
        return catalog.channel_videos(warehouse, channel_id)


def channel_analysis(state: ServiceState, channel_id: str) -> Encoded:
    """``GET /v1/channels/{id}/analysis``'s body."""
    with state.pool.borrow() as warehouse:
        return _encoded(catalog.channel_analysis(warehouse, channel_id).to_dict())


def warm_channel(state: ServiceState, channel_id: str, *, analysis: bool) -> None:
    """Fill every cache entry the read routes use for ``channel_id`` (its analysis when asked:
    the costly one, warmed after every channel's cheap answers). The warmer's lookups are not
    counted as the memory tier's hits and misses, which describe requests."""
    cache = state.cache
    if analysis:
        analyse = functools.partial(channel_analysis, state, channel_id)
        cache.get_or_compute(channel_id, "analysis", analyse, ENCODED, record=False)
        return
    key, resolve = resolved_id(state, channel_id)
    cache.get_or_compute(FLEET, key, resolve, record=False)
    peer_row(state, channel_id, record=False)  # comparisons read it, even when the detail is on disk
    detail = functools.partial(channel_detail, state, channel_id, record=False)
    cache.get_or_compute(channel_id, "detail", detail, ENCODED, record=False)
    ready = functools.partial(channel_videos, state, channel_id)
    cache.get_or_compute(channel_id, "videos", ready, record=False)[1].prepare_orders()


def warm_fleet(state: ServiceState) -> list[str]:
    """Fill the channel list and each handle's resolution; the stored channel ids, in list order."""
    listing = functools.partial(channel_listing, state)
    body = state.cache.get_or_compute(FLEET, "channels", listing, ENCODED, record=False)[1]
    newest_observation(state, record=False)
    items = orjson.loads(body.raw)["items"]
    for item in items:
        if item.get("handle"):
            key, resolve = resolved_id(state, str(item["handle"]))
            state.cache.get_or_compute(FLEET, key, resolve, record=False)
    return [str(item["channel_id"]) for item in items]


async def _channel_id(state: ServiceState, ref: str) -> str:
    """The stored channel ``ref`` names, remembered until data lands: every request starts here."""
    key, resolve = resolved_id(state, ref)
    return (await _cached(state, FLEET, key, resolve))[1]


@router.get("/channels", response_model=dict[str, Any])
async def list_channels(request: Request, _: ReadToken, state: State) -> Response:
    """List the channels in the warehouse."""
    listing = functools.partial(channel_listing, state)
    return _json(request, (await _cached(state, FLEET, "channels", listing, ENCODED))[1])


@router.post("/channels", status_code=status.HTTP_202_ACCEPTED)
async def add_channel(body: AddChannel, _: WriteToken, state: State) -> dict[str, Any]:
    """Start collecting a channel; follow the returned job under /v1/jobs/{job_id}."""
    return await state.jobs.submit(collect_spec([body.ref], full=body.full))


@router.get("/channels/{ref}", response_model=dict[str, Any])
async def get_channel(ref: RefPath, request: Request, _: ReadToken, state: State) -> Response:
    """One channel's details and KPIs."""
    channel_id = await _channel_id(state, ref)
    detail = functools.partial(channel_detail, state, channel_id)
    return _json(request, (await _cached(state, channel_id, "detail", detail, ENCODED))[1])


@router.get("/channels/{ref}/videos", response_model=dict[str, Any])
async def list_videos(
    ref: RefPath,
    request: Request,
    _: ReadToken,
    state: State,
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
    channel_id = await _channel_id(state, ref)
    videos = (
        await _cached(state, channel_id, "videos", functools.partial(channel_videos, state, channel_id))
    )[1]
    cut = functools.partial(
        videos.page, page=page, page_size=page_size, sort=sort, descending=order == "desc", where=where
    )
    # A page with a filter seen before, or none, is index work. A new filter is a few vectorised
    # pandas operations: under a millisecond up to about 10k videos (benchmarks/service_misses.py),
    # cheaper on the event loop than a worker thread, which under load waits for the loop's GIL at
    # every release inside pandas (hundreds of milliseconds). Only a much larger channel's goes there.
    inline = not where or videos.has_filter(where) or len(videos) <= INLINE_FILTER_VIDEOS
    result = cut() if inline else await run_in_threadpool(cut)
    body = {"items": result.items, "total": result.total, "page": result.page, "page_size": result.page_size}
    return _json(request, _encoded(body, compress=False))


@router.get("/channels/{ref}/analysis", response_model=dict[str, Any])
async def get_analysis(ref: RefPath, request: Request, _: ReadToken, state: State) -> Response:
    """Every analysis of the channel (derived metrics); cached until a new run lands for it."""
    channel_id = await _channel_id(state, ref)
    analysis = functools.partial(channel_analysis, state, channel_id)
    hit, body = await _cached(state, channel_id, "analysis", analysis, ENCODED)
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
    channel: Annotated[list[str], Query(min_length=2, max_length=20, description="Two or more channels")],
) -> Response:
    """Each channel's KPIs as percentiles among the others; a peer set is cached until data lands."""

    ids = tuple(catalog.comparison_ids([await _channel_id(state, ref) for ref in channel]))
    comparison = functools.partial(peer_answer, state, ids)
    # Memory only: an ad-hoc peer set is a few numpy comparisons over the channels' prepared KPI
    # rows (well under a millisecond), cheaper than a Redis or disk round trip, and answered on
    # the event loop once those rows are cached; the first comparison after a run lands reads
    # the warehouse in a worker thread.
    key = ("compare", ids)
    hit, body = state.cache.get(FLEET, key)
    if hit:
        return _json(request, body)
    if state.cache.holds(FLEET, NEWEST) and all(state.cache.holds(cid, "peer_row") for cid in ids):
        return _json(request, state.cache.get_or_compute(FLEET, key, comparison)[1])
    return _json(request, (await _cached(state, FLEET, key, comparison))[1])
