"""``tubescope collect --db postgresql://…`` as a user runs it, against the emulator on loopback.

The same world collected into PostgreSQL and into the DuckDB default must read back the same;
a SIGKILL mid-run on PostgreSQL resumes without duplicates.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.jobs.test_collect import _cli, _env, _run, _without_times
from tests.pipeline.helpers import HOLD_LATENCY_MS, ledger_calls, rows, stored_data
from tubescope.config import Settings
from tubescope.emulator.world import World
from tubescope.jobs.collect import collect
from tubescope.pipeline.collect import GROUP_LINGER_SECONDS
from tubescope.testing import running_emulator
from tubescope.warehouse import Warehouse


def test_collect_into_postgres_reads_back_as_a_duckdb_collection_of_the_same_world(
    tmp_path: Path, postgres_url: str
) -> None:
    world = World(seed=7, n_channels=2, videos_per_channel=90)
    duck = tmp_path / "same.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        # The URL comes from the environment here (TUBESCOPE_DB_URL), as a deployment sets it.
        env = _env(emu, emu.keys[:1], TUBESCOPE_DB_URL=postgres_url)
        result = _run([*ids, "--json"], env, tmp_path)
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        collect(ids, db_path=duck, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["snapshots"] > 0
    assert not (tmp_path / "tubescope.duckdb").exists()  # nothing went to the default file
    assert _without_times(stored_data(postgres_url)) == _without_times(stored_data(duck))
    with Warehouse.open(postgres_url) as pg, Warehouse.open(duck) as dk:
        assert pg.backend == "postgresql" and dk.backend == "duckdb"
        pg_frames, dk_frames = pg.load_frames(), dk.load_frames()
    for name, frame in dk_frames.items():
        other = pg_frames[name]
        assert list(other.columns) == list(frame.columns), name
        assert other.dtypes.astype(str).to_dict() == frame.dtypes.astype(str).to_dict(), name
        assert len(other) == len(frame), name


def test_sigkill_mid_run_on_postgres_then_collect_again_loses_and_doubles_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    world = World(seed=4, n_channels=2, videos_per_channel=600)
    clean_db = tmp_path / "clean.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        emu.set_faults(latency_ms=40)
        # 10 requests a second: the 48 requests take at least 4.8 s. Once 6 batches are fetched,
        # every answer takes HOLD_LATENCY_MS, so the kill lands mid-run however late it comes, and
        # after the first group commit (batches linger up to GROUP_LINGER_SECONDS for company).
        env = _env(emu, emu.keys[:1], TUBESCOPE_REQUESTS_PER_SECOND="10", TUBESCOPE_MAX_CONCURRENCY="2")
        process = _cli([*ids, "--db", postgres_url, "--json"], env, tmp_path)
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
        committed = rows(postgres_url, "SELECT count(*) FROM video_snapshots")[0][0]
        assert rows(postgres_url, "SELECT status FROM collection_runs") == [("running",)]
        emu.set_faults(latency_ms=0)
        resumed = _run([*ids, "--db", postgres_url, "--json"], _env(emu, emu.keys[:1]), tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        collect(ids, db_path=clean_db, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
    assert committed > 0
    summary = json.loads(resumed.stdout)
    assert summary["resumed"] is True and summary["status"] == "completed"
    assert rows(postgres_url, "SELECT status, attempts FROM collection_runs") == [("completed", 2)]
    duplicates = rows(
        postgres_url, "SELECT video_id FROM video_snapshots GROUP BY video_id, run_id HAVING count(*) > 1"
    )
    assert duplicates == []
    assert _without_times(stored_data(postgres_url)) == _without_times(stored_data(clean_db))


def test_a_bad_postgres_url_is_one_line_without_the_password(tmp_path: Path, postgres_url: str) -> None:
    world = World(seed=4, n_channels=1, videos_per_channel=5)
    with running_emulator(world) as emu:
        bad = postgres_url.replace("postgresql://postgres@", "postgresql://postgres:hunter2-secret@")
        bad = bad.rsplit("/", 1)[0] + "/no_such_db"
        result = _run([*world.channel_ids(), "--db", bad], _env(emu, emu.keys[:1]), tmp_path)
    assert result.returncode != 0
    assert "hunter2-secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert "no_such_db" in result.stderr
