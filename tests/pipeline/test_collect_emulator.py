"""The collector against the emulator over real loopback HTTP, into a real DuckDB file.

Quota is checked against the emulator's own ledger; data against what the emulator's world holds.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from tests.pipeline.helpers import CancelAfterPages, collect, ledger_calls, ledger_units, rows, stored_data
from tubescope.emulator.world import World
from tubescope.errors import BudgetExceeded, ConfigError, QuotaExhausted
from tubescope.logging import key_fingerprint
from tubescope.pipeline.incremental import (
    fresh_crawl_units,
    incremental_bound,
    incremental_units,
    stats_units,
)
from tubescope.pipeline.run import CollectOptions, RunState
from tubescope.testing import fixed_clock, running_emulator


def _world() -> World:
    return World(seed=4, n_channels=2, videos_per_channel=150)


def test_a_fresh_crawl_costs_exactly_one_plus_two_units_per_fifty_uploads(tmp_path: Path) -> None:
    world = _world()
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        listed = {cid: world.observe(emu.clock.now()).uploads(cid) for cid in ids}
        summary = collect(emu, tmp_path / "w.duckdb", ids)
        expected_units = sum(1 + 2 * math.ceil(len(v) / 50) for v in listed.values())
        assert ledger_units(emu) == expected_units == summary.quota_used
        assert summary.status is RunState.COMPLETED
    stored = {r[0] for r in rows(tmp_path / "w.duckdb", "SELECT video_id FROM videos")}
    assert stored == {v for vs in listed.values() for v in vs}
    assert summary.videos_new == len(stored) == summary.snapshots
    for report in summary.completeness:
        assert report.found == report.expected == len(listed[report.channel_id])


def test_a_handle_costs_nothing_extra_and_a_video_url_one_unit(tmp_path: Path) -> None:
    world = _world()
    with running_emulator(world) as emu:
        channel_id = world.channel_ids()[0]
        observation = world.observe(emu.clock.now())
        uploads = observation.uploads(channel_id)
        handle = observation.channel(channel_id).handle
        collect(emu, tmp_path / "a.duckdb", [handle])
        assert ledger_units(emu) == fresh_crawl_units(len(uploads))
        before = ledger_units(emu)
        collect(emu, tmp_path / "b.duckdb", [f"https://youtu.be/{uploads[5]}"])
        assert ledger_units(emu) - before == fresh_crawl_units(len(uploads)) + 1


def test_a_rerun_walks_only_new_uploads_refreshes_the_rest_and_tombstones_the_vanished(
    tmp_path: Path,
) -> None:
    world = _world()
    clock = fixed_clock(fixed_clock().now() - timedelta(days=30))
    db = tmp_path / "w.duckdb"
    with running_emulator(world, clock=clock) as emu:
        ids = world.channel_ids()
        before = {cid: world.observe(clock.now()).uploads(cid) for cid in ids}
        collect(emu, db, ids)
        clock.advance(timedelta(days=30))
        after = {cid: world.observe(clock.now()).uploads(cid) for cid in ids}
        spent_before = ledger_units(emu)
        main_before = ledger_units(emu) - ledger_calls(emu).get("videos.batchGetStats", 0)
        summary = collect(emu, db, ids)
        spent = ledger_units(emu) - spent_before
        spent_main = ledger_units(emu) - ledger_calls(emu).get("videos.batchGetStats", 0) - main_before
    new = {cid: len(set(after[cid]) - set(before[cid])) for cid in ids}
    gone = {v for cid in ids for v in set(before[cid]) - set(after[cid])}
    assert all(new.values()) and gone, "the world should have changed between the runs"
    # The emulator has videos.batchGetStats: known videos' statistics go through its own bucket,
    # the main bucket pays only for the channel, the walk and the new videos.
    main = sum(incremental_units(new[cid], len(before[cid]), stats_bucket=True) for cid in ids)
    assert spent_main == main
    assert spent - spent_main == sum(stats_units(len(before[cid])) for cid in ids)
    assert spent_main <= sum(incremental_bound(new[cid], len(after[cid])) for cid in ids)
    assert summary.videos_new == sum(new.values())
    assert summary.tombstoned == len(gone)
    deleted = {r[0] for r in rows(db, "SELECT video_id FROM videos WHERE is_deleted")}
    assert deleted == gone
    # a tombstoned video keeps the history it had
    history = rows(
        db, "SELECT count(*) FROM video_snapshots WHERE video_id IN (SELECT unnest(?))", [list(gone)]
    )
    assert history[0][0] == len(gone)
    live = {r[0] for r in rows(db, "SELECT video_id FROM videos WHERE NOT is_deleted")}
    assert live == {v for vs in after.values() for v in vs}


def test_full_forces_a_complete_walk(tmp_path: Path) -> None:
    world = _world()
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        collect(emu, db, ids)
        spent = ledger_units(emu)
        summary = collect(emu, db, ids, options=CollectOptions(full=True))
        n = [len(world.observe(emu.clock.now()).uploads(cid)) for cid in ids]
        assert ledger_units(emu) - spent == sum(fresh_crawl_units(x) for x in n)
        assert summary.videos_updated == sum(n) and summary.videos_new == 0


def test_twenty_percent_server_errors_give_the_same_data_as_a_clean_run(tmp_path: Path) -> None:
    world = _world()
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        collect(emu, tmp_path / "clean.duckdb", ids)
        emu.set_faults(seed=11, backend_error_rate=0.1, unavailable_rate=0.1)
        summary = collect(emu, tmp_path / "faulty.duckdb", ids)
        injected = sum(emu.app.state.faults.injected.values())
    assert injected >= 5
    assert summary.status is RunState.COMPLETED and summary.quarantined == 0
    assert stored_data(tmp_path / "faulty.duckdb") == stored_data(tmp_path / "clean.duckdb")


def test_out_of_quota_stops_cleanly_and_resumes_after_pacific_midnight_without_duplicates(
    tmp_path: Path,
) -> None:
    world = _world()
    db = tmp_path / "w.duckdb"
    with running_emulator(world, keys={"tiny-key-0001": 12}) as emu:
        ids = world.channel_ids()
        first = collect(emu, db, ids)
        assert first.status is RunState.QUOTA_STOPPED
        assert isinstance(first.exit_error, QuotaExhausted) and first.exit_error.exit_code == 6
        assert ledger_units(emu) == 12
        # 05:00 PDT on the first day; 08:00 UTC next day is 01:00 PDT: a new quota day
        emu.clock.set(emu.clock.now().replace(hour=0) + timedelta(days=1, hours=8))
        second = collect(emu, db, ids)
        assert second.status is RunState.COMPLETED and second.resumed
        assert second.run_id == first.run_id
        listed = {v for cid in ids for v in world.observe(emu.clock.now()).uploads(cid)}
    duplicates = rows(db, "SELECT video_id, run_id FROM video_snapshots GROUP BY ALL HAVING count(*) > 1")
    assert duplicates == []
    stored = {r[0] for r in rows(db, "SELECT video_id FROM videos")}
    assert stored >= listed - {r[0] for r in rows(db, "SELECT video_id FROM videos WHERE is_deleted")}
    run = rows(db, "SELECT status, attempts FROM collection_runs")
    assert run == [("completed", 2)]


def test_a_budget_stops_at_a_checkpoint_and_a_bigger_budget_finishes_the_run(tmp_path: Path) -> None:
    world = _world()
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        first = collect(emu, db, ids, options=CollectOptions(budget=9))
        assert first.status is RunState.BUDGET_STOPPED
        assert isinstance(first.exit_error, BudgetExceeded) and first.exit_error.exit_code == 7
        assert ledger_units(emu) <= 9
        committed = rows(db, "SELECT count(*) FROM video_snapshots")[0][0]
        second = collect(emu, db, ids)
        assert second.status is RunState.COMPLETED and second.run_id == first.run_id
    assert committed > 0
    clean = tmp_path / "clean.duckdb"
    with running_emulator(world) as emu:
        collect(emu, clean, ids)
    assert stored_data(db) == stored_data(clean)


def test_dry_run_prints_the_exact_cost_the_real_run_then_spends(tmp_path: Path) -> None:
    world = _world()
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        plan = collect(emu, db, ids, options=CollectOptions(dry_run=True))
        assert plan.status is RunState.DRY_RUN
        assert plan.quota_used == ledger_units(emu) == len(ids)  # one lookup per unknown channel
        assert rows(db, "SELECT count(*) FROM collection_runs") == [(0,)]
        before = ledger_units(emu)
        collect(emu, db, ids)
        assert ledger_units(emu) - before == plan.planned_units
        # now the warehouse knows the channels: planning costs nothing
        replan = collect(emu, db, ids, options=CollectOptions(dry_run=True))
        assert replan.quota_used == 0
        before = ledger_units(emu)
        collect(emu, db, ids)
        assert ledger_units(emu) - before == replan.planned_units


def test_an_invalid_key_fails_in_one_request_with_one_clear_line(tmp_path: Path) -> None:
    world = _world()
    with running_emulator(world) as emu:
        summary = collect(emu, tmp_path / "w.duckdb", world.channel_ids()[:1], keys=["wrong-key-123456"])
        served = emu.app.state.emulator.requests_served
    assert summary.status is RunState.FAILED
    assert summary.exit_error is not None and summary.exit_error.exit_code == 5
    assert "wrong-key-123456" not in str(summary.exit_error)
    assert "\n" not in str(summary.exit_error)
    assert served == 1
    assert ledger_calls(emu) == {}


@pytest.mark.parametrize("channels", [1])
def test_unknown_channels_are_skipped_with_a_reason(tmp_path: Path, channels: int) -> None:
    world = _world()
    with running_emulator(world) as emu:
        summary = collect(emu, tmp_path / "w.duckdb", ["@nobody-here", world.channel_ids()[0]])
    assert summary.status is RunState.COMPLETED
    assert [s.item_id for s in summary.skipped] == ["@nobody-here"]
    assert len(summary.channels) == channels


def test_detect_shorts_uses_uush_membership_and_counts_its_pages(tmp_path: Path) -> None:
    world = World(seed=3, n_channels=2, videos_per_channel=150)
    channel_id = world.channel_ids()[1]
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        observation = world.observe(emu.clock.now())
        uploads = observation.uploads(channel_id)
        shorts = set(observation.uploads(channel_id, "short"))
        collect(emu, db, [channel_id], options=CollectOptions(detect_shorts=True))
        spent = ledger_units(emu)
    assert shorts, "the chosen channel should publish Shorts"
    assert spent == fresh_crawl_units(len(uploads)) + math.ceil(len(shorts) / 50)
    stored_shorts = {r[0] for r in rows(db, "SELECT video_id FROM videos WHERE video_format = 'short'")}
    assert stored_shorts == shorts


def test_a_custom_url_needs_allow_search_and_then_costs_one_search(tmp_path: Path) -> None:
    world = _world()
    with running_emulator(world) as emu:
        channel_id = world.channel_ids()[0]
        observation = world.observe(emu.clock.now())
        vanity = observation.channel(channel_id).handle.lstrip("@")
        ref = f"https://www.youtube.com/c/{vanity}"
        with pytest.raises(ConfigError, match="--allow-search"):
            collect(emu, tmp_path / "w.duckdb", [ref])
        assert ledger_units(emu) == 0  # refused before any request
        summary = collect(emu, tmp_path / "w.duckdb", [ref], options=CollectOptions(allow_search=True))
        assert summary.channels == (channel_id,)
        assert ledger_units(emu) == 100 + fresh_crawl_units(len(observation.uploads(channel_id)))


def test_a_key_out_of_quota_rotates_to_the_next_and_lineage_names_both(tmp_path: Path) -> None:
    world = _world()
    db = tmp_path / "w.duckdb"
    keys = {"first-key-0001": 5, "second-key-0002": 10_000}
    with running_emulator(world, keys=keys) as emu:
        summary = collect(emu, db, world.channel_ids(), keys=list(keys))
    assert summary.status is RunState.COMPLETED
    assert set(summary.quota_by_key) == {key_fingerprint(k) for k in keys}
    stored = rows(db, "SELECT key_fingerprints, CAST(quota_spent AS VARCHAR) FROM collection_runs")
    fingerprints, spent = stored[0]
    assert sorted(fingerprints) == sorted(key_fingerprint(k) for k in keys)
    assert all(k not in spent for k in keys)


def test_a_progress_hook_can_cancel_a_run_which_then_resumes_to_the_same_data(tmp_path: Path) -> None:
    world = _world()
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        first = collect(emu, db, ids, progress=CancelAfterPages(2))
        assert first.status is RunState.INTERRUPTED
        assert first.exit_error is not None and "cancelled by the caller" in str(first.exit_error)
        assert rows(db, "SELECT status FROM collection_runs") == [("interrupted",)]
        second = collect(emu, db, ids)
        assert second.status is RunState.COMPLETED and second.run_id == first.run_id
        collect(emu, tmp_path / "clean.duckdb", ids)
    assert stored_data(db) == stored_data(tmp_path / "clean.duckdb")


def test_live_details_of_broadcasts_are_stored_and_other_videos_have_none(tmp_path: Path) -> None:
    world = _world()
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        summary = collect(emu, db, world.channel_ids())
    assert summary.status is RunState.COMPLETED
    live = rows(
        db,
        "SELECT video_id, live_scheduled_start_at, live_actual_start_at, live_actual_end_at, published_at"
        " FROM videos WHERE video_format = 'live'",
    )
    assert live, "the world has no broadcasts to store"
    for video_id, scheduled, started, ended, published in live:
        assert scheduled is not None and started == published, video_id
        assert ended is None or ended > started
    others = rows(
        db,
        "SELECT count(*) FROM videos WHERE video_format <> 'live' AND (live_scheduled_start_at IS NOT NULL"
        " OR live_actual_start_at IS NOT NULL OR live_actual_end_at IS NOT NULL"
        " OR live_concurrent_viewers IS NOT NULL)",
    )
    assert others == [(0,)]
