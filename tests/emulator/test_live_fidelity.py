"""Live streams as the real API shows them: ``P0D`` only for a broadcast with no length yet.

In the recorded real responses, every item whose duration is ``P0D`` has 0 views or no statistics
(a broadcast that has not started); a finished stream has its archive's length. The emulator
follows that: ``P0D`` only before a stream starts (0 views), the length streamed so far while it is
on air, and the archive's length once it ended.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tubescope.domain.durations import parse_duration_seconds
from tubescope.emulator.clock import EmulatorClock
from tubescope.emulator.server import create_app
from tubescope.emulator.world import World

from .conftest import KEY, NOW

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "api-fixtures"


def _recorded_videos() -> list[dict[str, Any]]:
    if not FIXTURES.is_dir():
        pytest.skip(f"real API fixtures not present at {FIXTURES} (see shared/data/real/INDEX.md)")
    items: list[dict[str, Any]] = []
    for path in sorted(FIXTURES.rglob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(body, dict) and body.get("kind") == "youtube#videoListResponse":
            items.extend(i for i in body.get("items", []) if isinstance(i, dict))
    return items


def _views(item: dict[str, Any]) -> int | None:
    stats = item.get("statistics")
    return int(stats["viewCount"]) if isinstance(stats, dict) and "viewCount" in stats else None


def test_in_the_real_data_p0d_means_no_views_yet() -> None:
    items = _recorded_videos()
    assert items, "no recorded videos.list answers"
    for item in items:
        if item.get("contentDetails", {}).get("duration") == "P0D":
            assert _views(item) in (None, 0), item["id"]


async def _served(world: World, at: datetime, video_ids: list[str]) -> list[dict[str, Any]]:
    app = create_app(world, clock=EmulatorClock(at), keys={KEY: 1_000_000})
    items: list[dict[str, Any]] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e/youtube/v3"
    ) as http:
        for start in range(0, len(video_ids), 50):
            answer = await http.get(
                "/videos",
                params={
                    "key": KEY,
                    "id": ",".join(video_ids[start : start + 50]),
                    "part": "snippet,contentDetails,statistics,liveStreamingDetails",
                },
            )
            items.extend(answer.json()["items"])
    return items


def _live_ids(world: World, at: datetime) -> list[str]:
    observation = world.observe(at)
    return [
        v.video_id
        for cid in world.channel_ids()
        for v in observation.videos(observation.uploads(cid))
        if v.is_live
    ]


async def test_the_emulators_p0d_items_have_no_views_as_in_the_real_data() -> None:
    world = World(seed=3, n_channels=12)
    live_ids = _live_ids(world, NOW)
    assert live_ids, "the world has no live streams to check"
    items = await _served(world, NOW, live_ids)
    assert [i for i in items if "actualEndTime" in i["liveStreamingDetails"]]
    for item in items:
        duration = item["contentDetails"]["duration"]
        if duration == "P0D":
            assert _views(item) in (None, 0), item["id"]
            assert item["snippet"]["liveBroadcastContent"] == "upcoming"
        else:
            assert (parse_duration_seconds(duration) or 0) > 0


async def test_a_broadcast_is_upcoming_then_live_then_finished() -> None:
    world = World(seed=3, n_channels=12)
    observation = world.observe(NOW)
    newest = max(observation.videos(_live_ids(world, NOW)), key=lambda v: v.published_at)
    start = newest.published_at
    (upcoming,) = await _served(world, start, [newest.video_id])
    assert upcoming["contentDetails"]["duration"] == "P0D" and _views(upcoming) == 0
    assert upcoming["snippet"]["liveBroadcastContent"] == "upcoming"
    assert set(upcoming["liveStreamingDetails"]) == {"scheduledStartTime"}
    (on_air,) = await _served(world, start + timedelta(minutes=10), [newest.video_id])
    assert on_air["snippet"]["liveBroadcastContent"] == "live" and (_views(on_air) or 0) > 0
    assert parse_duration_seconds(on_air["contentDetails"]["duration"]) == 600
    assert int(on_air["liveStreamingDetails"]["concurrentViewers"]) > 0
    assert "actualEndTime" not in on_air["liveStreamingDetails"]
    (finished,) = await _served(world, start + timedelta(hours=3), [newest.video_id])
    assert finished["snippet"]["liveBroadcastContent"] == "none"
    assert parse_duration_seconds(finished["contentDetails"]["duration"]) == 7200
    assert "concurrentViewers" not in finished["liveStreamingDetails"]
    assert _published(finished["liveStreamingDetails"]["actualEndTime"]) == start + timedelta(hours=2)


def _published(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
