"""Watch mode's breakout alert over emulated days: the world's planted breakout is alerted once,
within its first 24 hours, and a quiet channel watched beside it raises nothing.

The emulator runs on loopback; its clock is moved 12 hours at a time from two weeks before the
breakout (the same-age baseline: the channel's videos observed at 1 h, 24 h and 72 h meanwhile).
Each step is a real scheduler tick (the warehouse claims the due watches) and a real collection,
after which the rules run as they do when any run lands. The webhook receiver is a real HTTP
server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.watch.receivers import webhook_receiver
from tubescope.config import AlertRuleSettings, Settings, load_settings
from tubescope.emulator.clock import EmulatorClock
from tubescope.emulator.world import World
from tubescope.jobs import watch as watch_jobs
from tubescope.jobs.collect import collect
from tubescope.testing import EmulatorHandle, running_emulator
from tubescope.warehouse import Warehouse
from tubescope.warehouse.alerts import list_alerts
from tubescope.watch.delivery import SIGNATURE_HEADER, verify

STEP = timedelta(hours=12)
SECRET = "emulated-hook-secret"


def _world() -> World:
    # 400 uploads from 2025-09 on: about six a week, so two weeks of watching observe enough
    # same-format videos at 1 h to judge a new one against.
    return World(seed=1, n_channels=8, start=datetime(2025, 9, 1, tzinfo=UTC), videos_per_channel=400)


def _planted(world: World, after: datetime, before: datetime) -> list[tuple[str, int, pd.Series]]:
    """(channel id, index, video row) of every planted breakout published in [after, before)."""
    found = []
    for index in range(world.n_channels):
        truth = world.channel_truth(index)
        table = world.video_table(index)
        rows = table[table["video_id"].isin(truth.breakout_video_ids)]
        for _, row in rows.iterrows():
            if after <= row["published_at"] < before:
                found.append((truth.channel_id, index, row))
    return found


@contextmanager
def _emulated(world: World, start: datetime) -> Iterator[tuple[EmulatorHandle, EmulatorClock]]:
    clock = EmulatorClock(start)
    with running_emulator(world, clock=clock) as emu:
        yield emu, clock


def run_days(settings: Settings, clock: EmulatorClock, until: datetime) -> int:
    """Move the emulated clock ``STEP`` at a time until ``until``: a scheduler tick claims the due
    watches in the warehouse and they are collected (the rules run as the run lands)."""
    steps = 0

    def borrow() -> AbstractContextManager[Warehouse]:
        return Warehouse.open(settings.db_path)

    while clock.now() < until:
        now = clock.advance(STEP)
        due = watch_jobs.tick(borrow, now)
        if due:
            collect(due, settings=settings)
        steps += 1
    return steps


@pytest.mark.slow
def test_a_planted_breakout_is_alerted_once_within_24_hours_and_a_quiet_channel_never(tmp_path: Path) -> None:
    world = _world()
    window = (datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))
    planted = _planted(world, *window)
    assert planted, "the world plants a breakout in the window"
    channel_id, _, video = planted[0]
    published: datetime = video["published_at"].to_pydatetime()
    start = (published - timedelta(days=14)).replace(minute=0, second=0, microsecond=0)
    until = published + timedelta(hours=30)
    near = _planted(world, start - timedelta(days=7), until)
    quiet = next(world.channel_id(i) for i in range(world.n_channels) if i not in {j for _, j, _ in near})
    assert [p[2]["video_id"] for p in near if p[0] == channel_id] == [video["video_id"]]

    with webhook_receiver() as receiver, _emulated(world, start) as (emu, clock):
        settings = load_settings(
            db_path=tmp_path / "watch.duckdb",
            youtube_api_base=emu.base_url,
            api_keys=emu.keys[:1],
            public_url="https://tubescope.example",
            alert_rules=[AlertRuleSettings(name="breakouts", kind="breakout")],  # threshold 5x
            alert_webhook_url=receiver.url,
            alert_webhook_secret=SECRET,
            alert_retry_wait_seconds=0.01,
        )
        watch_jobs.add([channel_id, quiet], every=STEP, settings=settings)
        steps = run_days(settings, clock, until)

    assert steps == (until - start) // STEP + (1 if (until - start) % STEP else 0)
    with Warehouse.open(settings.db_path) as warehouse:
        alerts = list_alerts(warehouse)
        snapshots = warehouse.fetchone(
            "SELECT count(DISTINCT observed_at) FROM video_snapshots WHERE video_id = ?", [video["video_id"]]
        )
    assert [(a.rule, a.channel_id, a.video_id) for a in alerts] == [
        ("breakouts", channel_id, video["video_id"])
    ]
    (alert,) = alerts
    assert snapshots is not None and snapshots[0] >= 2  # observed every 12 h from its first hours
    assert published < alert.fired_at <= published + timedelta(hours=24)
    assert alert.value is not None and alert.value >= 5.0
    assert alert.message.endswith(f"https://tubescope.example/channels/{channel_id}")
    assert f"{alert.value:.1f}x" in alert.message
    assert alert.delivered == {"webhook": "sent"}
    assert not [a for a in alerts if a.channel_id == quiet]
    # delivered once, signed, although the rules ran again after every later collection
    assert len(receiver.requests) == 1
    (request,) = receiver.requests
    assert verify(request.body, SECRET, request.headers[SIGNATURE_HEADER])
    body = json.loads(request.body)
    assert body["alert_id"] == alert.alert_id and body["kind"] == "breakout"
    assert body["video_id"] == video["video_id"] and body["link"].endswith(channel_id)
