from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pandas as pd
import pytest

from tubescope.domain.frames import (
    CHANNEL_COLUMNS,
    CHANNEL_SNAPSHOT_COLUMNS,
    VIDEO_COLUMNS,
    VIDEO_SNAPSHOT_COLUMNS,
)
from tubescope.emulator.server import create_app
from tubescope.emulator.world import World
from tubescope.testing import emulator_transport, fixed_clock, running_emulator, world_frames

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def test_running_emulator_serves_on_loopback_and_stops() -> None:
    with running_emulator(seed=4, n_channels=3) as emu:
        assert emu.base_url.startswith("http://127.0.0.1:") and emu.base_url.endswith("/youtube/v3")
        cid = emu.world.channel_id(2)
        resp = httpx.get(f"{emu.base_url}/channels", params={"part": "id", "id": cid, "key": emu.keys[0]})
        assert resp.status_code == 200 and resp.json()["items"][0]["id"] == cid
        assert emu.ledger.usage(emu.keys[0])["channels.list"].units == 1
        emu.set_faults(backend_error_rate=1.0)
        assert (
            httpx.get(
                f"{emu.base_url}/channels", params={"part": "id", "id": cid, "key": emu.keys[0]}
            ).status_code
            == 500
        )
        emu.set_faults()
        url = emu.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/channels", params={"part": "id", "id": cid, "key": "k"}, timeout=2)


async def test_in_process_transport_and_fixed_clock() -> None:
    clock = fixed_clock(T0)
    assert clock() == T0
    world = World(seed=4, n_channels=2)
    app = create_app(world, clock=clock, keys={"k": 10})
    async with httpx.AsyncClient(transport=emulator_transport(app), base_url="http://emulator") as http:
        resp = await http.get(
            "/youtube/v3/channels", params={"part": "id", "id": world.channel_id(0), "key": "k"}
        )
    assert resp.status_code == 200


def test_world_frames_follow_the_domain_contract_and_match_http() -> None:
    world = World(seed=4, n_channels=3)
    times = [T0 + timedelta(days=7 * i) for i in range(4)]
    frames = world_frames(world, world.channel_ids(), times)
    assert list(frames["channels"].columns) == list(CHANNEL_COLUMNS)
    assert list(frames["videos"].columns) == list(VIDEO_COLUMNS)
    assert list(frames["video_snapshots"].columns) == list(VIDEO_SNAPSHOT_COLUMNS)
    assert list(frames["channel_snapshots"].columns) == list(CHANNEL_SNAPSHOT_COLUMNS)
    videos = frames["videos"]
    assert str(videos["published_at"].dtype) == "datetime64[ns, UTC]"
    assert str(frames["video_snapshots"]["observed_at"].dtype) == "datetime64[ns, UTC]"
    for column in ("view_count", "like_count", "comment_count"):
        assert str(videos[column].dtype) == "Int64"
    assert videos["is_deleted"].dtype == bool and videos["tag_count"].dtype == "int64"
    assert set(videos["video_format"]) <= {"short", "long", "live"}
    assert len(frames["channel_snapshots"]) == 3 * len(times)

    # the last snapshot equals what the HTTP emulator answers at that instant
    last = times[-1]
    snaps = frames["video_snapshots"]
    latest = snaps[snaps["observed_at"] == pd.Timestamp(last)].set_index("video_id")
    with running_emulator(world, clock=fixed_clock(last)) as emu:
        sample = list(latest.index[:50])
        body = httpx.get(
            f"{emu.base_url}/videos",
            params={"part": "statistics", "id": ",".join(sample), "key": emu.keys[0]},
        ).json()
    assert len(body["items"]) == len(sample)
    for item in body["items"]:
        row = latest.loc[item["id"]]
        assert int(item["statistics"]["viewCount"]) == row["view_count"]
        if "likeCount" in item["statistics"]:
            assert int(item["statistics"]["likeCount"]) == row["like_count"]
        else:
            assert pd.isna(row["like_count"])
        if "commentCount" not in item["statistics"]:
            assert pd.isna(row["comment_count"])


def test_world_frames_mark_videos_that_disappeared_as_deleted() -> None:
    world = World(seed=5, n_channels=8)
    times = [datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)]
    frames = world_frames(world, world.channel_ids(), times)
    deleted = frames["videos"][frames["videos"]["is_deleted"]]
    assert len(deleted) > 0
    final = world.observe(times[-1])
    assert all(final.video(v) is None for v in deleted["video_id"])


def test_world_frames_carry_the_planted_weekly_season() -> None:
    world = World(seed=9, n_channels=12)
    truth = max(world.truth.channels, key=lambda c: max(c.weekday_multipliers) - min(c.weekday_multipliers))
    start = datetime(2025, 6, 2, tzinfo=UTC)  # a Monday
    times = [start + timedelta(days=d) for d in range(113)]
    frames = world_frames(world, [truth.channel_id], times)
    snaps = frames["video_snapshots"]
    totals = snaps.groupby("observed_at")["view_count"].sum().astype("int64")
    gained = totals.diff().dropna()  # gained[i] = views on the UTC day before observation i
    by_weekday = gained.groupby((gained.index - pd.Timedelta(days=1)).day_of_week).mean()
    observed = (by_weekday / by_weekday.mean()).to_numpy()
    planted = np.array(truth.weekday_multipliers)
    assert np.corrcoef(observed, planted)[0, 1] > 0.8


def test_emulator_process_serves_the_same_world_and_takes_admin_commands() -> None:
    from tubescope.testing import emulator_process

    with emulator_process(seed=4, n_channels=2, keys={"proc-key": 50}, now=T0) as emu:
        cid = emu.world.channel_id(1)
        params = {"part": "statistics", "id": cid, "key": "proc-key"}
        body = httpx.get(f"{emu.base_url}/channels", params=params).json()
        expected = emu.world.observe(T0).channel(cid)
        assert expected is not None
        assert body["items"][0]["statistics"]["viewCount"] == str(expected.view_count)
        emu.set_faults(unavailable_rate=1.0)
        assert httpx.get(f"{emu.base_url}/channels", params=params).status_code == 503
        emu.set_faults()
        emu.advance(86_400 * 10)
        later = httpx.get(f"{emu.base_url}/channels", params=params).json()
        assert int(later["items"][0]["statistics"]["viewCount"]) > expected.view_count
        # ten days later is a new Pacific quota day: only the last call counts today
        assert next(iter(emu.quota()["keys"].values()))["used_today"] == 1


def test_an_emulator_process_serves_its_world_with_its_faults_and_clock() -> None:
    from tubescope.emulator.faults import FaultConfig
    from tubescope.testing import emulator_process

    with emulator_process(
        seed=5, n_channels=2, videos_per_channel=7, faults=FaultConfig(latency_ms=1.0)
    ) as emu:
        channel_id = emu.world.channel_ids()[0]
        faults = httpx.get(f"{emu.root_url}/_admin/faults", timeout=10).json()["config"]
        assert faults["latency_ms"] == 1.0
        emu.set_now(datetime(2026, 3, 1, tzinfo=UTC))
        assert httpx.get(f"{emu.root_url}/_admin/clock", timeout=10).json()["now"].startswith("2026-03-01")
        found = httpx.get(
            f"{emu.base_url}/channels",
            params={"part": "statistics", "id": channel_id, "key": emu.keys[0]},
            timeout=10,
        ).json()
        assert [item["id"] for item in found["items"]] == [channel_id]
        assert emu.world.videos_per_channel == 7
        pid = emu.pid
    with pytest.raises(OSError):
        import os

        os.kill(pid, 0)  # the child is gone


def test_world_frames_need_an_observation_time_and_skip_unknown_channels() -> None:
    world = World(seed=5, n_channels=2)
    with pytest.raises(ValueError, match="at least one observation time"):
        world_frames(world, world.channel_ids(), [])
    frames = world_frames(world, ["UCnot-in-this-world00000"], [datetime(2026, 3, 1, tzinfo=UTC)])
    assert all(frame.empty for frame in frames.values())
    assert list(frames["videos"].columns) == list(VIDEO_COLUMNS)
