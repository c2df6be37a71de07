"""Retention: ``tubescope prune`` and the prune after a completed ``collect``, on real DuckDB files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.pipeline.helpers import rows
from tubescope.config import Settings
from tubescope.domain.models import Channel, ChannelSnapshot, Video, VideoFormat, VideoSnapshot
from tubescope.emulator.world import World
from tubescope.errors import ConfigError, StorageError
from tubescope.jobs.collect import collect
from tubescope.jobs.retention import prune
from tubescope.testing import fixed_clock, running_emulator
from tubescope.warehouse.repository import Warehouse

CHANNEL = "UC" + "r" * 22
KEPT_ALONE = "aaaaaaaaaaa"  # one old snapshot only: it is its latest, so it stays
WATCHED = "bbbbbbbbbbb"  # snapshots at days 0, 20 and 40: only day 40 survives a 10-day prune


def _channel() -> Channel:
    return Channel(
        channel_id=CHANNEL,
        title="Retention",
        handle=None,
        description="",
        published_at=None,
        country=None,
        default_language=None,
        uploads_playlist_id="UU" + "r" * 22,
        subscriber_count=10,
        hidden_subscriber_count=False,
        view_count=100,
        video_count=2,
    )


def _video(video_id: str, published: datetime) -> Video:
    return Video(
        video_id=video_id,
        channel_id=CHANNEL,
        title=video_id,
        description="",
        published_at=published,
        duration_seconds=300,
        duration_raw="PT5M",
        video_format=VideoFormat.LONG,
    )


def _build(db: Path, start: datetime) -> None:
    """Three runs 20 days apart; the first sees both videos, the later ones only WATCHED."""
    with Warehouse.open(db, clock=lambda: start) as wh:
        for day in (0, 20, 40):
            at = start + timedelta(days=day)
            run = wh.start_run("youtube", [CHANNEL], [], started_at=at)
            wh.upsert_channel(run, _channel(), fetched_at=at)
            wh.record_channel_snapshot(run, ChannelSnapshot(CHANNEL, at, 10 + day, 100, 2), fetched_at=at)
            ids = [KEPT_ALONE, WATCHED] if day == 0 else [WATCHED]
            wh.upsert_videos(run, [_video(v, start - timedelta(days=1)) for v in ids], fetched_at=at)
            wh.record_video_snapshots(run, [VideoSnapshot(v, at, 1000 + day, 5, 1) for v in ids])
            wh.finish_run(run, "completed", finished_at=at)


def test_prune_drops_old_snapshots_but_keeps_each_latest_and_all_lineage(tmp_path: Path) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    db = tmp_path / "w.duckdb"
    _build(db, start)
    now = start + timedelta(days=45)

    outcome = prune(db, older_than_days=10, clock=lambda: now)

    assert outcome.cutoff == now - timedelta(days=10)
    assert outcome.video_snapshots_deleted == 2  # WATCHED at days 0 and 20
    assert outcome.channel_snapshots_deleted == 2  # the channel at days 0 and 20
    left = rows(db, "SELECT video_id, observed_at, view_count FROM video_snapshots ORDER BY video_id")
    assert left == [(KEPT_ALONE, start, 1000), (WATCHED, start + timedelta(days=40), 1040)]
    assert rows(db, "SELECT observed_at FROM channel_snapshots") == [(start + timedelta(days=40),)]
    # lineage: every run, every video and the snapshots' run ids stay
    assert rows(db, "SELECT count(*) FROM collection_runs WHERE status = 'completed'") == [(3,)]
    assert rows(db, "SELECT count(*) FROM videos") == [(2,)]
    runs = {r[0] for r in rows(db, "SELECT run_id FROM collection_runs")}
    assert {r[0] for r in rows(db, "SELECT run_id FROM video_snapshots")} <= runs
    assert rows(db, "SELECT older_than_days, video_snapshots_deleted FROM retention_log") == [(10, 2)]

    again = prune(db, older_than_days=10, clock=lambda: now)
    assert (again.video_snapshots_deleted, again.channel_snapshots_deleted) == (0, 0)


def test_prune_refuses_bad_input_with_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        prune(tmp_path / "w.duckdb", older_than_days=0)
    missing = tmp_path / "missing.duckdb"
    with pytest.raises(StorageError, match="no warehouse"):
        prune(missing, older_than_days=30)
    assert not missing.exists()  # a prune never creates an empty warehouse


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", "prune", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prune_command_exit_codes_and_output(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    # The command uses the wall clock: place the three runs so that the first two are 25+ days old.
    _build(db, datetime.now(UTC) - timedelta(days=45))

    done = _cli("--db", str(db), "--older-than-days", "10", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["video_snapshots_deleted"] == 2 and report["channel_snapshots_deleted"] == 2
    assert report["older_than_days"] == 10

    text = _cli("--db", str(db), "--older-than-days", "10", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "pruned 0 video snapshot(s) and 0 channel snapshot(s)" in text.stdout

    bad = _cli("--db", str(db), "--older-than-days", "0", cwd=tmp_path)
    assert bad.returncode == ConfigError.exit_code
    assert "at least 1" in bad.stderr and "Traceback" not in bad.stderr

    missing = _cli("--db", str(tmp_path / "none.duckdb"), "--older-than-days", "5", cwd=tmp_path)
    assert missing.returncode == StorageError.exit_code
    assert "no warehouse" in missing.stderr and "Traceback" not in missing.stderr


def test_a_completed_collect_prunes_when_retention_is_set(tmp_path: Path) -> None:
    world = World(seed=11, n_channels=2, videos_per_channel=60)
    clock = fixed_clock(fixed_clock().now() - timedelta(days=30))
    db = tmp_path / "w.duckdb"
    with running_emulator(world, clock=clock) as emu:
        ids = world.channel_ids()
        keep_all = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        first = collect(ids, db_path=db, api_keys=emu.keys[:1], settings=keep_all, clock=clock)
        assert first.retention is None  # retention_days unset: keep forever
        clock.advance(timedelta(days=30))
        pruning = keep_all.model_copy(update={"retention_days": 7})
        second = collect(ids, db_path=db, api_keys=emu.keys[:1], settings=pruning, clock=clock)
    assert str(second.status) == "completed"
    refreshed = rows(db, "SELECT count(DISTINCT video_id) FROM video_snapshots WHERE run_id = 2")[0][0]
    first_run_left = rows(db, "SELECT count(*) FROM video_snapshots WHERE run_id = 1")[0][0]
    assert second.retention is not None
    # every video the second run observed lost its month-old snapshot; the rest kept their only one
    assert second.retention["video_snapshots_deleted"] == first.snapshots - first_run_left
    assert second.retention["video_snapshots_deleted"] == refreshed - second.videos_new
    assert second.retention["channel_snapshots_deleted"] == len(ids)
    assert rows(db, "SELECT count(*) FROM retention_log") == [(1,)]
    latest = rows(
        db,
        "SELECT count(*) FROM videos v WHERE NOT EXISTS (SELECT 1 FROM video_snapshots s"
        " WHERE s.video_id = v.video_id)",
    )
    assert latest == [(0,)]  # no video lost its last snapshot
