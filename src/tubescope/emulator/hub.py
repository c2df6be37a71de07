"""The emulator's WebSub hub: what ``pubsubhubbub.appspot.com`` does for YouTube's upload feeds.

- ``POST /websub/hub`` (form: ``hub.mode``, ``hub.topic``, ``hub.callback``, ``hub.secret``,
  ``hub.lease_seconds``) asks for a subscription. The hub answers 202 and verifies it: a GET to the
  callback with ``hub.challenge``, which must come back as the body. Only then is it active, with
  a lease that expires (the subscriber renews by subscribing again).
- When the world's clock moves (``POST /_admin/clock``), every video a subscribed channel published
  in between is pushed to the callback as a real Atom notification, signed with
  ``X-Hub-Signature: sha1=<HMAC of the body with the subscription's secret>``.

The hub is a separate party from the client, so it signs with its own code here.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.etree import ElementTree as ET

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from tubescope.emulator.world import World

FEED_URL = "https://www.youtube.com/xml/feeds/videos.xml"
MAX_LEASE_SECONDS = 10 * 24 * 3600
DEFAULT_LEASE_SECONDS = 5 * 24 * 3600
_ATOM = "http://www.w3.org/2005/Atom"
_YT = "http://www.youtube.com/xml/schemas/2015"


@dataclass
class HubSubscription:
    """An active (verified) subscription."""

    topic: str
    channel_id: str
    callback: str
    secret: str | None
    expires_at: datetime


@dataclass
class Delivery:
    """One push the hub sent, and what the callback answered."""

    callback: str
    channel_id: str
    video_ids: list[str]
    status: int | None
    signed: bool


@dataclass
class WebSubHub:
    """Subscriptions and deliveries of the emulated hub."""

    world: World
    subscriptions: dict[tuple[str, str], HubSubscription] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    verifications: int = 0

    def _channel_of(self, topic: str) -> str | None:
        parsed = urlparse(topic)
        if f"{parsed.scheme}://{parsed.netloc}{parsed.path}" != FEED_URL:
            return None
        found = parse_qs(parsed.query).get("channel_id", [])
        if len(found) != 1 or self.world.channel_index(found[0]) is None:
            return None
        return found[0]

    async def subscribe(self, form: dict[str, str], now: datetime) -> Response:
        """Handle a subscription request: validate, verify with the callback, then activate."""
        mode = form.get("hub.mode", "")
        topic = form.get("hub.topic", "")
        callback = form.get("hub.callback", "")
        if mode not in ("subscribe", "unsubscribe"):
            return PlainTextResponse("hub.mode must be subscribe or unsubscribe", status_code=400)
        channel_id = self._channel_of(topic)
        if channel_id is None:
            return PlainTextResponse(f"unknown topic {topic!r}", status_code=400)
        if urlparse(callback).scheme not in ("http", "https"):
            return PlainTextResponse("hub.callback must be an http(s) URL", status_code=400)
        lease_text = form.get("hub.lease_seconds", "")
        lease = min(int(lease_text), MAX_LEASE_SECONDS) if lease_text.isdigit() else DEFAULT_LEASE_SECONDS
        challenge = secrets.token_urlsafe(16)
        params = {
            "hub.mode": mode,
            "hub.topic": topic,
            "hub.challenge": challenge,
            "hub.lease_seconds": str(lease),
        }
        self.verifications += 1
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.get(callback, params=params)
        except httpx.HTTPError:
            return PlainTextResponse("the callback could not be reached for verification", status_code=409)
        if not answer.is_success or answer.text != challenge:
            return PlainTextResponse("the callback did not confirm the subscription", status_code=409)
        key = (callback, topic)
        if mode == "unsubscribe":
            self.subscriptions.pop(key, None)
        else:
            self.subscriptions[key] = HubSubscription(
                topic=topic,
                channel_id=channel_id,
                callback=callback,
                secret=form.get("hub.secret") or None,
                expires_at=now + timedelta(seconds=lease),
            )
        # Verified before answering: the real hub's "sync" mode (it may also answer 202 and verify
        # later; subscribers handle both).
        return Response(status_code=204)

    def _atom(self, channel_id: str, channel_title: str, videos: list[tuple[str, str, datetime]]) -> bytes:
        ET.register_namespace("", _ATOM)
        ET.register_namespace("yt", _YT)
        feed = ET.Element(f"{{{_ATOM}}}feed")
        ET.SubElement(feed, f"{{{_ATOM}}}link", rel="hub", href="https://pubsubhubbub.appspot.com")
        ET.SubElement(feed, f"{{{_ATOM}}}link", rel="self", href=f"{FEED_URL}?channel_id={channel_id}")
        ET.SubElement(feed, f"{{{_ATOM}}}title").text = "YouTube video feed"
        ET.SubElement(feed, f"{{{_ATOM}}}updated").text = datetime.now(UTC).isoformat()
        for video_id, title, published in videos:
            entry = ET.SubElement(feed, f"{{{_ATOM}}}entry")
            ET.SubElement(entry, f"{{{_ATOM}}}id").text = f"yt:video:{video_id}"
            ET.SubElement(entry, f"{{{_YT}}}videoId").text = video_id
            ET.SubElement(entry, f"{{{_YT}}}channelId").text = channel_id
            ET.SubElement(entry, f"{{{_ATOM}}}title").text = title
            ET.SubElement(
                entry, f"{{{_ATOM}}}link", rel="alternate", href=f"https://www.youtube.com/watch?v={video_id}"
            )
            author = ET.SubElement(entry, f"{{{_ATOM}}}author")
            ET.SubElement(author, f"{{{_ATOM}}}name").text = channel_title
            ET.SubElement(author, f"{{{_ATOM}}}uri").text = f"https://www.youtube.com/channel/{channel_id}"
            ET.SubElement(entry, f"{{{_ATOM}}}published").text = published.isoformat()
            ET.SubElement(entry, f"{{{_ATOM}}}updated").text = published.isoformat()
        encoded: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
        return encoded

    async def publish_between(self, before: datetime, after: datetime) -> int:
        """Push every video published in ``(before, after]`` by a subscribed channel; returns pushes."""
        if after <= before:
            return 0
        active = [
            s
            for s in self.subscriptions.values()
            if s.expires_at > after and self._published_between(s.channel_id, before, after)
        ]
        if not active:
            return 0
        old, new = self.world.observe(before), self.world.observe(after)
        pushes: list[tuple[HubSubscription, list[str], bytes]] = []
        for subscription in active:
            seen = set(old.uploads(subscription.channel_id))
            fresh = [v for v in new.uploads(subscription.channel_id) if v not in seen]
            if not fresh:
                continue
            channel = new.channel(subscription.channel_id)
            states = [new.video(v) for v in reversed(fresh)]
            entries = [(s.video_id, s.title, s.published_at) for s in states if s is not None]
            body = self._atom(subscription.channel_id, channel.title if channel else "", entries)
            pushes.append((subscription, [e[0] for e in entries], body))
        if not pushes:
            return 0
        async with httpx.AsyncClient(timeout=10) as client:
            await asyncio.gather(*(self._push(client, *push) for push in pushes))
        return len(pushes)

    def _published_between(self, channel_id: str, before: datetime, after: datetime) -> bool:
        """Whether the channel publishes anything in ``(before, after]`` (from its static video
        table: an hour with no upload costs no observation of the whole channel)."""
        if self.world.channel_index(channel_id) is None:
            return False
        published = self.world.video_table(channel_id)["published_at"]
        return bool(((published > before) & (published <= after)).any())

    async def _push(
        self, client: httpx.AsyncClient, subscription: HubSubscription, video_ids: list[str], body: bytes
    ) -> None:
        headers = {"Content-Type": "application/atom+xml"}
        if subscription.secret:
            digest = hmac.new(subscription.secret.encode(), body, hashlib.sha1).hexdigest()
            headers["X-Hub-Signature"] = f"sha1={digest}"
        status: int | None
        try:
            status = (await client.post(subscription.callback, content=body, headers=headers)).status_code
        except httpx.HTTPError:
            status = None  # best effort, like the real hub: the subscriber reconciles by polling
        self.deliveries.append(
            Delivery(
                subscription.callback, subscription.channel_id, video_ids, status, bool(subscription.secret)
            )
        )

    def snapshot(self) -> dict[str, Any]:
        """Subscriptions and deliveries, for the admin route and tests."""
        return {
            "subscriptions": [
                {
                    "topic": s.topic,
                    "callback": s.callback,
                    "expires_at": s.expires_at.isoformat(),
                    "signed": s.secret is not None,
                }
                for s in self.subscriptions.values()
            ],
            "verifications": self.verifications,
            "deliveries": [d.__dict__ for d in self.deliveries],
        }


def hub_routes_handlers(hub: WebSubHub, now: Any) -> tuple[Any, Any]:
    """The two Starlette handlers: the hub endpoint and its admin view."""

    async def endpoint(request: Request) -> Response:
        form = await request.form()
        return await hub.subscribe({k: str(v) for k, v in form.items()}, now())

    async def admin(_: Request) -> Response:
        return JSONResponse(hub.snapshot())

    return endpoint, admin
