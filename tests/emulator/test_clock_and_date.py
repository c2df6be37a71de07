"""The emulator stamps answers with its world's time (the ``Date`` header), the client reads it,
and a collection dates its snapshots with it: the emulator's clock and the real API stamp alike."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tubescope.emulator.clock import DEFAULT_NOW, EmulatorClock, RunningClock
from tubescope.emulator.server import banner
from tubescope.emulator.world import World
from tubescope.jobs.collect import collect
from tubescope.testing import running_emulator
from tubescope.warehouse import Warehouse
from tubescope.youtube.client import parse_http_date

WORLD_TIME = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_answers_carry_the_world_time_and_snapshots_are_dated_with_it(tmp_path: Path) -> None:
    with running_emulator(seed=3, n_channels=2) as emulator:
        emulator.set_now(WORLD_TIME)
        answer = httpx.get(
            f"{emulator.base_url}/channels",
            params={"part": "id", "id": emulator.world.channel_ids()[0], "key": emulator.keys[0]},
        )
        assert answer.headers.get_list("date") == [email.utils.format_datetime(WORLD_TIME, usegmt=True)]
        db_path = tmp_path / "w.duckdb"
        collect(
            emulator.world.channel_ids()[:1],
            db_path=db_path,
            api_keys=emulator.keys[:1],
            api_base=emulator.base_url,
        )
    with Warehouse.open(db_path, read_only=True) as warehouse:
        stamps = warehouse.query(
            "SELECT min(observed_at) AS first, max(observed_at) AS last FROM video_snapshots"
        ).iloc[0]
    # Not the machine's clock: the world's, plus the few seconds the collection took.
    assert WORLD_TIME <= stamps["first"].to_pydatetime() <= stamps["last"].to_pydatetime()
    assert stamps["last"].to_pydatetime() - WORLD_TIME < timedelta(minutes=10)


def test_http_dates_are_parsed_or_refused() -> None:
    assert parse_http_date("Wed, 04 Mar 2026 05:06:07 GMT") == WORLD_TIME
    assert parse_http_date("yesterday") is None
    assert parse_http_date(None) is None


def test_a_running_clock_starts_at_the_world_date_and_moves_with_time() -> None:
    ticks = iter([100.0, 100.0, 160.0, 160.0])
    clock = RunningClock(WORLD_TIME, monotonic=lambda: next(ticks))
    assert clock.now() == WORLD_TIME
    assert clock.now() == WORLD_TIME + timedelta(seconds=60)


def test_the_banner_lists_several_channels_to_try() -> None:
    world = World(seed=7, n_channels=20)
    lines = banner(world, "127.0.0.1", 8765, ["demo-key-1"])
    assert lines[0] == "http://127.0.0.1:8765/youtube/v3"
    handles = [line.split()[0] for line in lines if line.startswith("  @")]
    assert len(handles) >= 3 and handles == [world.handle_of(i) for i in range(len(handles))]


def test_clocks_jump_when_set_or_advanced_and_refuse_naive_times() -> None:
    frozen = EmulatorClock(WORLD_TIME)
    assert frozen() == frozen.now() == WORLD_TIME  # a clock is also a Callable[[], datetime]
    assert frozen.advance(90) == WORLD_TIME + timedelta(seconds=90)
    assert frozen.advance(timedelta(days=-1)) == WORLD_TIME + timedelta(seconds=90) - timedelta(days=1)
    other_zone = datetime(2026, 3, 4, 7, 6, 7, tzinfo=timezone(timedelta(hours=2)))
    assert frozen.set(other_zone) == WORLD_TIME and frozen.now().tzinfo == UTC
    assert repr(frozen) == f"EmulatorClock({WORLD_TIME.isoformat()})"
    with pytest.raises(ValueError, match="timezone-aware"):
        frozen.set(datetime(2026, 1, 1))
    ticks = iter([0.0, 0.0, 5.0, 35.0])  # readings at: start, set, advance, now
    running = RunningClock(WORLD_TIME, monotonic=lambda: next(ticks))
    assert running.set(WORLD_TIME + timedelta(hours=1)) == WORLD_TIME + timedelta(hours=1)
    assert running.advance(60) == WORLD_TIME + timedelta(hours=1, seconds=65)  # the jump, plus time moved
    assert running.now() == WORLD_TIME + timedelta(hours=1, seconds=95)
    assert EmulatorClock().now() == DEFAULT_NOW
