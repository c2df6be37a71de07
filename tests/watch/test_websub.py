"""WebSub over loopback HTTP against the emulator's hub: subscribe, verify, signed pushes of the
world's new uploads, forged pushes refused, lease renewal; and hostile XML refused."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tubescope.emulator.world import World
from tubescope.testing import running_emulator
from tubescope.watch.websub import (
    InvalidNotification,
    SubscriptionRequest,
    challenge_answer,
    channel_of_topic,
    due_for_renewal,
    new_secret,
    parse_notification,
    request_subscription,
    sign,
    signature_valid,
    topic_for,
)

CHANNEL = "UC" + "a" * 22


def test_signatures_round_trip_and_forgeries_fail() -> None:
    body, secret = b"<feed/>", new_secret()
    assert signature_valid(body, sign(body, secret), secret)
    assert signature_valid(body, sign(body, secret, "sha256"), secret)
    assert not signature_valid(body, sign(body, "other"), secret)
    assert not signature_valid(body + b" ", sign(body, secret), secret)
    for header in (None, "", "sha1", "md5=abcd", "sha1=zz", sign(body, secret)[:-2]):
        assert not signature_valid(body, header, secret)


def test_topics_name_one_channel_feed() -> None:
    topic = topic_for(CHANNEL)
    assert channel_of_topic(topic) == CHANNEL
    assert channel_of_topic("https://evil.example/xml/feeds/videos.xml?channel_id=" + CHANNEL) is None
    assert channel_of_topic(topic + "&channel_id=" + CHANNEL) is None


def test_hostile_or_foreign_xml_is_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol2;</title></feed>'
    )
    for body in (bomb, b"not xml", b"<rss/>", b'<feed xmlns="http://www.w3.org/2005/Atom"><entry/></feed>'):
        with pytest.raises(InvalidNotification):
            parse_notification(body)


def test_verification_answers_only_topics_we_asked_for() -> None:
    topic = topic_for(CHANNEL)
    params = {"hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "xyz", "hub.lease_seconds": "60"}
    assert challenge_answer(params, [topic]) == ("xyz", 60)
    assert challenge_answer({**params, "hub.topic": topic_for("UC" + "b" * 22)}, [topic]) == (None, None)
    assert challenge_answer({**params, "hub.mode": "publish"}, [topic]) == (None, None)


@dataclass
class Callback:
    """A subscriber's callback on loopback, built from the watch.websub functions."""

    topics: list[str]
    secret: str
    pushed: list[str] = field(default_factory=list)
    refused: int = 0

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            if request.method == "GET":
                body, _ = challenge_answer(dict(request.query_params), self.topics)
                return PlainTextResponse(body) if body else Response(status_code=404)
            raw = await request.body()
            if not signature_valid(raw, request.headers.get("x-hub-signature"), self.secret):
                self.refused += 1
                return Response(status_code=403)
            videos, _ = parse_notification(raw)
            self.pushed += [video.video_id for video in videos]
            return Response(status_code=204)

        return Starlette(routes=[Route("/websub", endpoint, methods=["GET", "POST"])])


@pytest.fixture
def callback_server() -> Iterator[tuple[str, Callback]]:
    callback = Callback(topics=[], secret=new_secret())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(callback.app(), log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/websub", callback
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_subscribe_verify_push_forgery_and_renewal(callback_server: tuple[str, Callback]) -> None:
    url, callback = callback_server
    world = World(seed=3, n_channels=12)
    with running_emulator(world) as emu:
        start = emu.clock.now()

        def published_within_two_days(channel: str) -> bool:
            later = world.observe(start + timedelta(days=2)).uploads(channel)
            return bool(set(later) - set(world.observe(start).uploads(channel)))

        channel_id = next(c for c in world.channel_ids() if published_within_two_days(c))
        callback.topics.append(topic_for(channel_id))
        hub = f"{emu.root_url}/websub/hub"

        async def subscribe(lease: int) -> int:
            async with httpx.AsyncClient(timeout=30) as client:
                asked = SubscriptionRequest(topic_for(channel_id), url, callback.secret, lease_seconds=lease)
                return await request_subscription(client, hub, asked)

        assert asyncio.run(subscribe(3 * 86400)) in (202, 204)
        state = httpx.get(f"{emu.root_url}/_admin/websub").json()
        assert [s["topic"] for s in state["subscriptions"]] == [topic_for(channel_id)]
        first_expiry = state["subscriptions"][0]["expires_at"]

        other = next(c for c in world.channel_ids() if c != channel_id)
        # A topic the callback never asked for is not confirmed, so the hub refuses it.
        with pytest.raises(Exception, match="refused"):
            asyncio.run(
                request_subscription(
                    httpx.AsyncClient(timeout=30),
                    hub,
                    SubscriptionRequest(topic_for(other), url, callback.secret),
                )
            )

        before = set(world.observe(emu.clock.now()).uploads(channel_id))
        moved = httpx.post(f"{emu.root_url}/_admin/clock", json={"advance_seconds": 2 * 86400}).json()
        after = set(world.observe(emu.clock.now()).uploads(channel_id))
        fresh = after - before
        assert fresh, "the world published nothing in 2 days: pick another seed"
        assert moved["websub_pushes"] == 1
        assert set(callback.pushed) == fresh and callback.refused == 0

        # A forged push (wrong secret) and an unsigned one are refused by the callback.
        body = httpx.get(f"{emu.root_url}/_admin/websub").json()["deliveries"][0]
        assert body["signed"] and body["status"] == 204
        forged = b'<feed xmlns="http://www.w3.org/2005/Atom"/>'
        forged_signature = {"X-Hub-Signature": sign(forged, "guess")}
        assert httpx.post(url, content=forged, headers=forged_signature).status_code == 403
        assert httpx.post(url, content=forged).status_code == 403
        assert callback.refused == 2

        # Renewal: subscribing again before the lease ends extends it.
        assert asyncio.run(subscribe(5 * 86400)) in (202, 204)
        renewed = httpx.get(f"{emu.root_url}/_admin/websub").json()["subscriptions"][0]["expires_at"]
        assert renewed > first_expiry


def test_renewal_is_due_shortly_before_expiry() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert due_for_renewal(None, now)
    assert due_for_renewal(now + timedelta(hours=11), now)
    assert not due_for_renewal(now + timedelta(days=2), now)
