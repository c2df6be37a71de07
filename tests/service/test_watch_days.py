"""Ten emulated days of ``tubescope serve`` watching five channels, against the world's truth.

The emulator's clock moves hour by hour through whole days; its hub pushes each new upload to
the service, and the scheduler ticks at every hour (but for a downtime of more than a day).
Every scheduled snapshot must be taken exactly once, every dense sample of every young video
exactly once, the missed day caught up once, and the emulator's quota ledger must show exactly
what the plan's arithmetic (:func:`tubescope.watch.plan.replay`) counts for the same ticks.
The breakout rule runs after every watch job: the breakout the world plants in the ten days
(its truth) is alerted exactly once within its first 24 h, and the quiet channels raise nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.service.watch_days import ledger_units, watched_service
from tubescope.analysis.alerts import BREAKOUT_LOOKBACK
from tubescope.config import AlertRuleSettings
from tubescope.emulator.world import World
from tubescope.jobs.common import open_for_reading
from tubescope.jobs.watch import dense_schedule
from tubescope.service.watching import run_watch_tick
from tubescope.warehouse.alerts import list_alerts
from tubescope.watch.plan import ReplayWatch, replay

DAYS = 10
WORLD_START = datetime(2026, 9, 1, tzinfo=UTC)


def busy_world() -> World:
    """Five channels uploading every day or two from a month before the emulator's clock
    (2026-10-01 12:00), so a channel has seen enough same-format videos at 1 h to judge a new one
    by within days. Seed 88 plants one breakout 6.6 days into the run and none in the week
    before (found by a scan of worlds' truth; the test reads it from the truth, not from here)."""
    return World(
        seed=88,
        n_channels=5,
        start=WORLD_START,
        end=WORLD_START + timedelta(days=420),
        videos_per_channel=280,
    )


@pytest.mark.slow
@pytest.mark.timeout(900)  # 241 hourly ticks through the service and the hub
def test_five_channels_watched_for_ten_days(tmp_path: Path) -> None:
    breakouts = AlertRuleSettings(name="breakouts", kind="breakout")  # 5x the same-age median
    with watched_service(tmp_path, world=busy_world(), watch=5, alert_rules=[breakouts]) as svc:
        spent_before = ledger_units(svc.emulator)
        down_from = svc.start + timedelta(days=4, hours=20)
        down_until = svc.start + timedelta(days=6, hours=3)  # the day-5 and day-6 ticks are missed

        def down(now: datetime) -> bool:
            return down_from <= now < down_until

        def second_tick(now: datetime) -> None:
            """On day one, a second tick within each hour (another replica, or the next minute's
            timer): nothing is due, and the hour's dense pass is not run again."""
            if now < svc.start + timedelta(days=1):
                jobs = len(svc.wait_for_jobs())
                assert asyncio.run(run_watch_tick(svc.app.state.tubescope, now + timedelta(minutes=30))) == []
                assert len(svc.wait_for_jobs()) == jobs

        svc.run_days(DAYS, down=down, each_hour=second_tick)
        spent = ledger_units(svc.emulator)
        units = {bucket: spent.get(bucket, 0) - spent_before.get(bucket, 0) for bucket in spent}
        uploads = svc.truth()
        schedule = dense_schedule(svc.settings)
        expected = replay(
            [ReplayWatch(c) for c in svc.channel_ids],
            uploads,
            svc.known_at_start,
            svc.ticks,
            dense=schedule,
            push=True,
        )
        with open_for_reading(svc.db) as warehouse:  # the server's own connection
            runs = warehouse.query(
                "SELECT run_id FROM collection_runs WHERE source = 'watch' AND status = 'completed'"
            )
            snaps = warehouse.query(
                "SELECT s.video_id, s.run_id, v.channel_id FROM video_snapshots s"
                " JOIN videos v USING (video_id)"
                " WHERE s.run_id IN (SELECT run_id FROM collection_runs WHERE source = 'watch')"
            )
            points = warehouse.query("SELECT video_id, slot_hours, age_hours FROM video_early_points")
            failed = warehouse.query("SELECT run_id FROM collection_runs WHERE status <> 'completed'")
            ticks = warehouse.query("SELECT channel_id, last_tick_at FROM watches")
            alerts = list_alerts(warehouse, rule="breakouts", limit=1000)
        planted = svc.planted_breakouts()
        planted_before = svc.planted_breakouts(since=svc.start - BREAKOUT_LOOKBACK)
        published = {u.video_id: u.published_at for u in svc.truth()}

    assert failed.empty
    # The quota spent is exactly what the plan's arithmetic counts for these ticks and pushes.
    assert expected.pushes > 0 and expected.dense_samples
    assert units == {b: n for b, n in expected.units.items() if n}
    # A channel tick per channel per day: days 0-4, then the day-5 and day-6 ticks missed in the
    # downtime caught up once at 6 d 3 h, then 7 d 3 h, 8 d 3 h and 9 d 3 h (nine, not ten).
    assert expected.channel_ticks == dict.fromkeys(svc.channel_ids, 9)
    assert len(runs) >= 9
    assert set(ticks["last_tick_at"]) == {svc.start + timedelta(days=DAYS - 1, hours=3)}
    # Every dense sample exactly once, at its age (within the hour after it).
    stored = Counter(zip(points["video_id"], points["slot_hours"], strict=True))
    assert set(stored) == expected.dense_samples and set(stored.values()) == {1}
    in_hour = (points["age_hours"] >= points["slot_hours"]) & (points["age_hours"] < points["slot_hours"] + 1)
    assert in_hour.all()
    # Every snapshot exactly once per run; each channel tick snapshots all its live videos.
    assert not snaps.duplicated(["video_id", "run_id"]).any()
    assert len(runs) == len(set(snaps["run_id"]))
    young = {v for v, _ in expected.dense_samples}
    assert young, "the world published nothing in ten days: the test would prove nothing"
    # Breakout alerts, evaluated after every watch job: exactly one per planted breakout (the
    # world's truth), within its first 24 h, and none on a quiet channel (one that published
    # during the run but has no planted breakout).
    assert planted, "the world plants no breakout in the ten days: the alert check would prove nothing"
    assert planted_before == planted  # none just before the start (its early ages were not watched)
    quiet = set(svc.channel_ids) - set(planted.values())
    assert {u.channel_id for u in uploads if u.video_id in young} & quiet, "no quiet channel uploaded"
    assert Counter(a.video_id for a in alerts) == dict.fromkeys(planted, 1)
    for alert in alerts:
        assert alert.channel_id == planted[alert.video_id or ""]
        assert alert.channel_id not in quiet
        born = published[alert.video_id or ""]
        assert born < alert.fired_at <= born + timedelta(hours=24)
        assert alert.value is not None and alert.value >= 5.0
