"""Watch lists: the channels collected on a schedule, and what their schedule costs a day."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from tubescope.jobs import watch as watch_jobs
from tubescope.jobs.common import resolve_stored_channel
from tubescope.service.state import ReadToken, State, WarehouseDep, WriteToken
from tubescope.warehouse.watches import list_watches, remove_watches, upload_rates
from tubescope.watch.plan import WatchedChannel, plan

router = APIRouter(prefix="/v1/watches", tags=["watches"])


class AddWatches(BaseModel):
    """The body of a request to watch channels."""

    refs: list[str] = Field(min_length=1, max_length=10_000)
    every: str = "1d"
    group: str = Field(default="default", min_length=1, max_length=100)


@router.get("")
async def get_watches(_: ReadToken, warehouse: WarehouseDep, group: str | None = None) -> dict[str, Any]:
    """The watch list (optionally one group)."""
    return {"items": watch_jobs.watch_rows(list_watches(warehouse, group))}


@router.post("", status_code=status.HTTP_201_CREATED)
async def post_watches(body: AddWatches, _: WriteToken, warehouse: WarehouseDep) -> dict[str, Any]:
    """Watch collected channels (add a new channel through ``POST /v1/channels`` first)."""
    every = watch_jobs.parse_every(body.every)
    change = watch_jobs.watch_stored(warehouse, body.refs, every=every, group=body.group)
    return {
        "channel_ids": change.channel_ids,
        "added": change.changed,
        "every": watch_jobs.describe_every(every),
    }


@router.delete("/{ref}")
async def delete_watch(ref: str, _: WriteToken, warehouse: WarehouseDep) -> dict[str, Any]:
    """Stop watching a channel (its data stays)."""
    channel_id = resolve_stored_channel(warehouse, ref)
    return {"channel_id": channel_id, "removed": remove_watches(warehouse, [channel_id])}


@router.get("/plan")
async def get_plan(_: ReadToken, state: State, warehouse: WarehouseDep) -> dict[str, Any]:
    """Quota units per bucket per day for the watch list, against the configured keys."""
    listed = list_watches(warehouse)
    rates = upload_rates(warehouse, [w.channel_id for w in listed])
    channels = [
        WatchedChannel(
            w.channel_id,
            videos=rates[w.channel_id][0],
            uploads_per_day=rates[w.channel_id][1] or watch_jobs.DEFAULT_UPLOADS_PER_DAY,
            every=w.every,
        )
        for w in listed
    ]
    settings = state.settings
    planned = plan(channels, quota_per_bucket=settings.key_daily_quota, keys=max(1, len(settings.api_keys)))
    return planned.as_dict()
