"""The WebSub callback: the hub verifies subscriptions here and pushes new uploads here.

``GET /websub/{channel_id}`` echoes ``hub.challenge`` only for a topic this service asked for.
``POST /websub/{channel_id}`` accepts a notification only when its ``X-Hub-Signature`` is the HMAC
of the body with that channel's secret (403 otherwise), then queues a watch job that fetches the
pushed videos not stored yet (one ``videos.list`` call), so a pushed video is stored within a
minute. No token: the hub authenticates by signature.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from tubescope.jobs.queue import watch_spec
from tubescope.service.state import State, WarehouseDep
from tubescope.warehouse.watches import confirm_subscription, get_subscription
from tubescope.watch.websub import (
    InvalidNotification,
    challenge_answer,
    parse_notification,
    signature_valid,
    topic_for,
)

router = APIRouter(prefix="/websub", tags=["websub"])
MAX_BODY = 1_000_000


@router.get("/{channel_id}", response_class=PlainTextResponse, responses={404: {"description": "not ours"}})
async def verify(channel_id: str, request: Request, warehouse: WarehouseDep) -> Response:
    """Confirm a subscription or unsubscription this service requested."""
    stored = get_subscription(warehouse, channel_id)
    topics = [topic_for(channel_id)] if stored is not None else []
    challenge, lease = challenge_answer(dict(request.query_params), topics)
    if challenge is None:
        return PlainTextResponse("unknown subscription", status_code=404)
    if stored is not None and lease is not None and request.query_params.get("hub.mode") == "subscribe":
        # The lease runs from the request, on the scheduler's clock (which may be emulated).
        confirm_subscription(warehouse, channel_id, stored.requested_at + timedelta(seconds=lease))
    return PlainTextResponse(challenge)


@router.post(
    "/{channel_id}",
    status_code=204,
    responses={400: {"description": "not a notification"}, 403: {"description": "bad signature"}},
)
async def notify(channel_id: str, request: Request, state: State, warehouse: WarehouseDep) -> Response:
    """A signed push of new or updated videos: queue a fetch of the ones not stored yet."""
    body = await request.body()
    stored = get_subscription(warehouse, channel_id)
    if len(body) > MAX_BODY:
        return PlainTextResponse("notification too large", status_code=413)
    if stored is None or not signature_valid(body, request.headers.get("x-hub-signature"), stored.secret):
        return PlainTextResponse("missing or wrong X-Hub-Signature", status_code=403)
    try:
        videos, _deleted = parse_notification(body)
    except InvalidNotification as exc:
        return PlainTextResponse(str(exc), status_code=400)
    if any(video.channel_id != channel_id for video in videos):
        return PlainTextResponse("the notification names another channel", status_code=400)
    if not videos:  # an update of nothing we fetch (a deletion): the next tick sees it
        return Response(status_code=204)
    pushed = {video.video_id: channel_id for video in videos}
    job: dict[str, Any] = await state.jobs.submit(watch_spec(datetime.now(UTC), pushed=pushed, dense=False))
    return Response(status_code=204, headers={"X-Tubescope-Job": str(job.get("job_id", ""))})
