"""Dense sampling against the emulator over loopback HTTP: a pushed new video is sampled at each
whole-hour age once, the samples are the world's true counts, and the 24 h same-age figure is
the observed sample, not an interpolation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.service.watch_days import ledger_units
from tubescope.analysis.same_age import EARLY_AGES_HOURS, analyze_same_age
from tubescope.config import load_settings
from tubescope.emulator.world import World
from tubescope.jobs import catalog
from tubescope.jobs.collect import collect
from tubescope.jobs.common import load_channel_frames
from tubescope.jobs.watch import dense_schedule, sweep
from tubescope.pipeline.kpi_aggregates import maintained_kpis
from tubescope.testing import running_emulator
from tubescope.warehouse import Warehouse
from tubescope.warehouse.watches import add_watches, early_points
from tubescope.watch.plan import pass_at
from tubescope.watch.schedule import claim_due


def test_a_pushed_video_is_sampled_once_at_each_young_age(tmp_path: Path) -> None:
    world = World(seed=3, n_channels=12)
    with running_emulator(world) as emu:
        start = pass_at(emu.clock.now()) + timedelta(hours=1)
        emu.set_now(start)

        def first_upload_after(channel: str) -> str | None:
            before = set(world.observe(start).uploads(channel))
            later = world.observe(start + timedelta(days=2)).uploads(channel)
            fresh = [v for v in later if v not in before]
            return fresh[-1] if fresh else None  # newest first: the last is the earliest

        later = world.observe(start + timedelta(days=2))
        firsts = {c: v for c in world.channel_ids() if (v := first_upload_after(c))}
        channel_id, video_id = min(firsts.items(), key=lambda cv: later.video(cv[1]).published_at)  # type: ignore[union-attr]
        db = tmp_path / "w.duckdb"
        collect([channel_id], db_path=db, api_keys=emu.keys[:1], api_base=emu.base_url)
        settings = load_settings(
            db_path=db, youtube_api_base=emu.base_url, api_keys=emu.keys[:1], watch_dense_until_hours=30
        )
        with Warehouse.open(db) as warehouse:
            add_watches(warehouse, [channel_id], every=timedelta(days=1), group="default", at=start)
        published = later.video(video_id)
        assert published is not None
        spent_before = ledger_units(emu)
        planned: dict[str, int] = {}
        now = start
        pushed_yet = False
        end = pass_at(published.published_at) + timedelta(hours=33)
        while now <= end:
            emu.set_now(now)
            pushed: dict[str, str] = {}
            if not pushed_yet and video_id in world.observe(now).uploads(channel_id):
                pushed, pushed_yet = {video_id: channel_id}, True  # what the hub pushes
            with Warehouse.open(db) as warehouse:
                due = claim_due(warehouse, now)
            result = sweep(now, channel_ids=due, pushed=pushed, settings=settings)
            for bucket, units in result.planned_units.items():
                planned[bucket] = planned.get(bucket, 0) + units
            if pushed:
                assert result.new_videos == 1
            now += timedelta(hours=1)
        again = sweep(end, settings=settings)  # the same pass twice: nothing taken twice
        assert again.dense_samples == 0 and again.run_id is None

        spent = ledger_units(emu)
        assert {b: spent.get(b, 0) - spent_before.get(b, 0) for b in planned} == planned

        with Warehouse.open(db, read_only=True) as warehouse:
            points = [p for p in early_points(warehouse, [channel_id]) if p.video_id == video_id]
            frames = load_channel_frames(warehouse, [channel_id])
        schedule = dense_schedule(settings)
        assert schedule is not None
        assert [p.slot_hours for p in points] == [a / timedelta(hours=1) for a in schedule.ages()]
        for point in points:
            assert point.slot_hours <= point.age_hours < point.slot_hours + 1
            truth = world.observe(point.observed_at).video(video_id)
            assert truth is not None and point.view_count == truth.view_count

        clock = end + timedelta(minutes=30)
        same_age = analyze_same_age(
            frames.videos, frames.video_snapshots, clock, EARLY_AGES_HOURS, frames.early_points
        )
        rows = {(r.video_id, r.age_label): r for r in same_age.rows}
        at_24h = next(p for p in points if p.slot_hours == 24.0)
        assert rows[(video_id, "24h")].observed
        assert rows[(video_id, "24h")].views == pytest.approx(at_24h.view_count)
        assert rows[(video_id, "1h")].observed and rows[(video_id, "6h")].observed
        assert (video_id, "72h") not in rows  # younger than 72 h: no figure, never a guess
        plain = analyze_same_age(frames.videos, frames.video_snapshots, clock, EARLY_AGES_HOURS)
        assert not any(r.observed for r in plain.rows)  # without the early points: interpolated

    # The sweeps' statistics reached the maintained fleet KPIs: up to date and equal to the scan.
    with Warehouse.open(db, read_only=True) as warehouse:
        maintained = maintained_kpis(warehouse)
        assert maintained is not None
        pd.testing.assert_frame_equal(
            maintained, catalog.fleet_kpi_scan(warehouse), check_exact=False, rtol=1e-12
        )
