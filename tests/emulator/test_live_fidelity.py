"""Live streams as the real API shows them: ``P0D`` only for a broadcast with no length yet.

In the recorded real responses, every item whose duration is ``P0D`` has 0 views or no statistics
(an upcoming or just-started broadcast); a finished stream has its archive's length. The emulator
follows that: its finished streams are served with a real duration.
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


async def test_the_emulators_finished_streams_have_a_length_and_only_live_ones_are_p0d() -> None:
    world = World(seed=3, n_channels=12)
    clock = EmulatorClock(NOW)
    app = create_app(world, clock=clock, keys={KEY: 1_000_000})
    observation = world.observe(NOW)
    live_ids = [
        v.video_id
        for cid in world.channel_ids()
        for v in observation.videos(observation.uploads(cid))
        if v.is_live
    ]
    assert live_ids, "the world has no live streams to check"
    items: list[dict[str, Any]] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://e/youtube/v3"
    ) as http:
        for start in range(0, len(live_ids), 50):
            answer = await http.get(
                "/videos",
                params={
                    "key": KEY,
                    "id": ",".join(live_ids[start : start + 50]),
                    "part": "snippet,contentDetails,statistics,liveStreamingDetails",
                },
            )
            items.extend(answer.json()["items"])
    finished = [i for i in items if "actualEndTime" in i["liveStreamingDetails"]]
    assert finished
    for item in items:
        duration = item["contentDetails"]["duration"]
        if duration == "P0D":
            assert item["snippet"]["liveBroadcastContent"] == "live"
            assert NOW - timedelta(hours=2) < _published(item)
        else:
            assert (parse_duration_seconds(duration) or 0) > 0
    for item in finished:
        assert item["contentDetails"]["duration"] != "P0D" and _views(item)


def _published(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["snippet"]["publishedAt"].replace("Z", "+00:00"))
