"""``tubescope collect`` as a user runs it: a real subprocess against an emulator on loopback."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.pipeline.helpers import HOLD_LATENCY_MS, ledger_calls, rows, stored_data
from tubescope.config import Settings
from tubescope.emulator.world import World
from tubescope.jobs.collect import GC_YOUNG_THRESHOLD, _fewer_gc_passes, collect
from tubescope.pipeline.collect import GROUP_LINGER_SECONDS
from tubescope.testing import EmulatorHandle, running_emulator


def _env(emu: EmulatorHandle, keys: Sequence[str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    env.update(
        TUBESCOPE_YOUTUBE_API_BASE=emu.base_url,
        TUBESCOPE_API_KEYS=json.dumps(list(keys)),
        TUBESCOPE_REQUESTS_PER_SECOND="1000",
        TUBESCOPE_MAX_RETRIES="3",
    )
    env.update(extra)
    return env


def _cli(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tubescope.cli", "--log-json", "collect", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(args: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    process = _cli(args, env, cwd)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_json_summary_on_stdout_with_env_configuration(tmp_path: Path) -> None:
    world = World(seed=4, n_channels=2, videos_per_channel=120)
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        result = _run([*ids, "--db", str(tmp_path / "w.duckdb"), "--json"], _env(emu, emu.keys[:1]), tmp_path)
        listed = sum(len(world.observe(emu.clock.now()).uploads(cid)) for cid in ids)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for field in (
        "run_id",
        "quota_used",
        "videos_new",
        "videos_updated",
        "snapshots",
        "quarantined",
        "status",
    ):
        assert field in summary
    assert summary["status"] == "completed"
    assert summary["videos_new"] == summary["snapshots"] == listed
    assert sum(c["found"] for c in summary["completeness"]) == listed


def test_out_of_quota_is_a_distinct_exit_code_with_one_line_and_a_summary(tmp_path: Path) -> None:
    world = World(seed=4, n_channels=1, videos_per_channel=120)
    with running_emulator(world, keys={"small-quota-key": 4}) as emu:
        result = _run(
            [world.channel_ids()[0], "--db", str(tmp_path / "w.duckdb"), "--json"],
            _env(emu, ["small-quota-key"]),
            tmp_path,
        )
    assert result.returncode == 6
    assert json.loads(result.stdout)["status"] == "quota_stopped"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Pacific" in errors[0]
    assert "small-quota-key" not in result.stderr + result.stdout


def test_an_invalid_key_is_one_line_exit_five_and_no_retry_storm(tmp_path: Path) -> None:
    world = World(seed=4, n_channels=1, videos_per_channel=120)
    with running_emulator(world) as emu:
        result = _run(
            [world.channel_ids()[0], "--db", str(tmp_path / "w.duckdb"), "--api-key", "no-such-key-999"],
            _env(emu, []),
            tmp_path,
        )
        served = emu.app.state.emulator.requests_served
    assert result.returncode == 5
    assert served == 1
    assert "no-such-key-999" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


def test_dry_run_spends_only_the_lookups_and_names_the_cost(tmp_path: Path) -> None:
    world = World(seed=4, n_channels=1, videos_per_channel=120)
    with running_emulator(world) as emu:
        channel_id = world.channel_ids()[0]
        result = _run(
            [channel_id, "--db", str(tmp_path / "w.duckdb"), "--dry-run", "--json"],
            _env(emu, emu.keys[:1]),
            tmp_path,
        )
        calls = ledger_calls(emu)
        listed = len(world.observe(emu.clock.now()).uploads(channel_id))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "dry_run"
    assert summary["plan"]["total_units"] == 1 + 2 * -(-listed // 50)
    assert calls == {"channels.list": 1}


def test_sigkill_mid_run_then_collect_again_gives_the_same_data_as_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    world = World(seed=4, n_channels=2, videos_per_channel=600)
    killed_db = tmp_path / "killed.duckdb"
    clean_db = tmp_path / "clean.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        emu.set_faults(latency_ms=40)
        # 10 requests a second: the 48 requests take at least 4.8 s. Once 6 batches are fetched,
        # every answer takes HOLD_LATENCY_MS, so the kill lands mid-run however late it comes, and
        # after the first group commit (batches linger up to GROUP_LINGER_SECONDS for company).
        env = _env(emu, emu.keys[:1], TUBESCOPE_REQUESTS_PER_SECOND="10", TUBESCOPE_MAX_CONCURRENCY="2")
        process = _cli([*ids, "--db", str(killed_db), "--json"], env, tmp_path)
        deadline = time.monotonic() + 60
        while ledger_calls(emu).get("videos.list", 0) < 6:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        emu.set_faults(latency_ms=HOLD_LATENCY_MS)
        time.sleep(GROUP_LINGER_SECONDS + 0.8)
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        committed = rows(killed_db, "SELECT count(*) FROM video_snapshots")[0][0]
        assert rows(killed_db, "SELECT status FROM collection_runs") == [("running",)]
        emu.set_faults(latency_ms=0)
        resumed = _run([*ids, "--db", str(killed_db), "--json"], _env(emu, emu.keys[:1]), tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        collect(ids, db_path=clean_db, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
    assert committed > 0
    summary = json.loads(resumed.stdout)
    assert summary["resumed"] is True and summary["status"] == "completed"
    assert rows(killed_db, "SELECT status, attempts FROM collection_runs") == [("completed", 2)]
    duplicates = rows(
        killed_db, "SELECT video_id FROM video_snapshots GROUP BY video_id, run_id HAVING count(*) > 1"
    )
    assert duplicates == []
    # The CLI stamps observations with the wall clock; the emulator's world stands still, so every
    # value must match the uninterrupted run's.
    assert _without_times(stored_data(killed_db)) == _without_times(stored_data(clean_db))


def _without_times(data: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted(tuple(v for v in row if not isinstance(v, datetime)) for row in table)
        for name, table in data.items()
    }


def test_a_crawl_raises_the_young_gc_threshold_and_the_last_one_out_restores_it() -> None:
    before = gc.get_threshold()
    with _fewer_gc_passes():
        assert gc.get_threshold() == (max(GC_YOUNG_THRESHOLD, before[0]), *before[1:])
        with _fewer_gc_passes():  # a second collection in another thread of the same process
            pass
        assert gc.get_threshold()[0] == max(GC_YOUNG_THRESHOLD, before[0])
    assert gc.get_threshold() == before
    gc.set_threshold(0)
    try:
        with _fewer_gc_passes():
            assert gc.get_threshold()[0] == 0  # collection switched off stays off
    finally:
        gc.set_threshold(*before)
