"""``tubescope demo`` (what ``make demo`` runs) works end to end as a newcomer would run it: a CLI
subprocess on the built-in emulator, its warehouse checked independently with DuckDB."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tubescope.demo import DENSE_HOURLY_HOURS
from tubescope.emulator.clock import DEFAULT_NOW
from tubescope.emulator.world import World
from tubescope.watch.plan import DenseSampling, ReplayWatch, Upload, replay

TUBESCOPE = Path(sys.executable).parent / "tubescope"


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUBESCOPE), "demo", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}, "COLUMNS": "200"},
    )


@pytest.fixture(autouse=True)
def _installed() -> None:
    if not TUBESCOPE.is_file():
        pytest.skip(f"the tubescope script is not installed beside {sys.executable}")


DAYS, SEED = 3, 15
"""World 15's channel and its first peer each publish a video in the demo's last three days (each
more than 30 h before its end), so the report has observed early points to show."""
SUMMARY = re.compile(
    r"tubescope serve watched (\d+) channels for (\d+) emulated days \((\d+) scheduler hours\): "
    r"(\d+) collections \((\d+) quota units\), trained model\s+(\S+)"
)


def _truth(world: World, channel_ids: list[str], ticks: list[datetime]) -> tuple[list[Upload], set[str]]:
    """Every video of the channels listed during the run (the world's truth), and those known at its start."""
    first, last = world.observe(ticks[0]), world.observe(ticks[-1])
    uploads, known = [], set()
    for channel_id in channel_ids:
        known |= set(first.uploads(channel_id))
        removed = set(last.removed_video_ids(channel_id))
        for video_id in sorted(set(first.uploads(channel_id)) | set(last.uploads(channel_id))):
            state = last.video(video_id) or first.video(video_id)
            assert state is not None
            gone = next(
                (t for t in ticks if video_id in world.observe(t).removed_video_ids(channel_id)), None
            )
            uploads.append(
                Upload(video_id, channel_id, state.published_at, gone if video_id in removed else None)
            )
    return uploads, known


def test_demo_watches_under_serve_and_reports_observed_early_curves(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    # A second run into the same folder starts a fresh warehouse: nothing is counted twice (the
    # first, shorter run of another world would leave runs and samples the checks below refuse).
    for days, seed in ((2, 7), (DAYS, SEED)):
        done = _demo("--out", str(out), "--days", str(days), "--peers", "1", "--seed", str(seed))
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr, done.stderr  # nor at the service's shutdown
    report = out / "report.html"
    assert f"report written to {report.resolve()}" in done.stdout
    html = report.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")

    summary = SUMMARY.search(done.stderr)
    assert summary is not None, done.stderr
    channels, days, hours, collections, quota = (int(summary[i]) for i in range(1, 6))
    assert (channels, days, hours) == (2, DAYS, DAYS * 24 + 1)

    with duckdb.connect(str(out / "demo.duckdb"), read_only=True) as db:
        runs = db.sql("SELECT status, source, quota_spent FROM collection_runs ORDER BY run_id").fetchall()
        points = db.sql("SELECT video_id, slot_hours, view_count FROM video_early_points").fetchall()
        last_ticks = {row[0] for row in db.sql("SELECT last_tick_at FROM watches").fetchall()}
        duplicated = db.sql(
            "SELECT count(*) FROM (SELECT video_id, run_id FROM video_snapshots"
            " GROUP BY ALL HAVING count(*) > 1)"
        ).fetchall()[0]
        versions = [row[0] for row in db.sql("SELECT version FROM model_manifests").fetchall()]
    assert versions == [summary[6]]
    assert [status for status, _source, _spent in runs] == ["completed"] * collections
    spent = [sum(json.loads(s).values()) for _status, _source, s in runs]
    assert quota == sum(spent) > 0
    assert duplicated == (0,)

    # The service's own scheduler took every tick of every emulated hour: exactly what the plan's
    # arithmetic counts for the world's truth (each channel tick once a day, every dense sample
    # once, each pushed upload once), no more and no less.
    world = World(seed=SEED, n_channels=8)
    channel_ids = world.channel_ids()[:2]
    start = DEFAULT_NOW - timedelta(days=DAYS)
    ticks = [start + timedelta(hours=h) for h in range(hours)]
    uploads, known = _truth(world, channel_ids, ticks)
    expected = replay(
        [ReplayWatch(c) for c in channel_ids],
        uploads,
        known,
        ticks,
        dense=DenseSampling(hourly_until=timedelta(hours=DENSE_HOURLY_HOURS)),
        push=True,
    )
    assert runs[0][1] != "watch" and {source for _status, source, _spent in runs[1:]} == {"watch"}
    assert sum(spent[1:]) == sum(expected.units.values())  # the first collection is not the watch's
    assert expected.channel_ticks == dict.fromkeys(channel_ids, DAYS + 1)
    assert last_ticks == {ticks[-1]}
    stored = Counter((video_id, slot) for video_id, slot, _views in points)
    assert set(stored) == expected.dense_samples and set(stored.values()) == {1}

    # The report's first-72-hours table: every observed figure is the stored dense sample of that
    # age, every stored 1 h/6 h/24 h/72 h sample is shown as observed, and both channels' new
    # videos have an observed 24 h point (they were watched while young, not interpolated).
    views = {(video_id, slot): count for video_id, slot, count in points}
    cells = re.findall(
        r'<tr data-video="([^"]+)">(.*?)</tr>',
        html.split('<section id="early">')[1].split("</section>")[0],
        re.S,
    )
    assert cells, "the report has no first-72-hours table"
    shown_observed = set()
    for video_id, row in cells:
        for age, source, value in re.findall(
            r'data-age="([\d.]+)" data-source="(\w+)"(?: data-views="(\d+)")?', row
        ):
            if source == "observed":
                assert int(value) == views[(video_id, float(age))]
                shown_observed.add((video_id, float(age)))
            else:
                assert (video_id, float(age)) not in views
    assert shown_observed == {key for key in views if key[1] in (1.0, 6.0, 24.0, 72.0)}
    new_videos = {u.video_id: u.channel_id for u in uploads if u.published_at > start}
    assert {new_videos[v] for v, slot in shown_observed if slot == 24.0} == set(channel_ids)
    assert '<section id="alerts">' in html


def test_demo_refuses_too_few_days_without_a_traceback(tmp_path: Path) -> None:
    done = _demo("--out", str(tmp_path / "out"), "--days", "1")
    assert done.returncode != 0
    assert "--days" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()
