"""Several ``tubescope worker`` processes writing one PostgreSQL warehouse at once: they share the
work, a SIGKILL loses nothing, and together they respect each key's daily quota."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import psycopg

from tests.jobs.test_worker import (
    _env,
    _finished,
    _jobs,
    _running_with_stored,
    _wait_for,
    _without_times,
    _worker,
)
from tests.pipeline.helpers import HOLD_LATENCY_MS, ledger_calls, rows, stored_data
from tubescope.config import Settings
from tubescope.emulator.world import World
from tubescope.jobs.collect import collect
from tubescope.jobs.queue import collect_spec
from tubescope.logging import key_fingerprint
from tubescope.testing import running_emulator
from tubescope.warehouse import Warehouse


def test_two_workers_share_the_jobs_and_a_sigkill_loses_and_doubles_nothing(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    world = World(seed=9, n_channels=3, videos_per_channel=300)
    clean_db = tmp_path / "clean.duckdb"
    with running_emulator(world) as emu:
        c0, c1, c2 = world.channel_ids()
        emu.set_faults(latency_ms=40)
        env = _env(
            emu, redis_url, tmp_path / "unused.duckdb", emu.keys[:1],
            TUBESCOPE_DB_URL=postgres_url, TUBESCOPE_REQUESTS_PER_SECOND="4", TUBESCOPE_MAX_CONCURRENCY="1",
        )  # fmt: skip
        big = _jobs(redis_url, lambda q: q.submit(collect_spec([c0, c1])))["job_id"]
        small = _jobs(redis_url, lambda q: q.submit(collect_spec([c2])))["job_id"]
        with _worker(env, tmp_path) as one, _worker(env, tmp_path) as two:
            running = {
                job_id: _wait_for(redis_url, job_id, lambda j: j["state"] == "running")["worker"]
                for job_id in (big, small)
            }
            assert len(set(running.values())) == 2  # each worker took one job
            # 4 requests a second: the big job's 12 videos.list calls take 3 s, and its first group
            # commit (up to 1 s of batches) shows 50 stored well before the last of them.
            _wait_for(redis_url, big, _running_with_stored(50))
            victim, survivor = (one, two) if running[big].endswith(f":{one.pid}") else (two, one)
            emu.set_faults(latency_ms=HOLD_LATENCY_MS)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            emu.set_faults(latency_ms=40)
            done = {job_id: _wait_for(redis_url, job_id, _finished, timeout=120) for job_id in (big, small)}
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        collect([c0, c1, c2], db_path=clean_db, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
    assert victim.returncode == -signal.SIGKILL
    assert {j["state"] for j in done.values()} == {"completed"}, done
    assert done[big]["attempts"] == 2 and done[big]["worker"].endswith(f":{survivor.pid}")
    assert done[big]["result"]["resumed"] is True
    assert sorted(rows(postgres_url, "SELECT status, attempts FROM collection_runs")) == [
        ("completed", 1),
        ("completed", 2),
    ]
    duplicates = rows(
        postgres_url, "SELECT video_id FROM video_snapshots GROUP BY video_id, run_id HAVING count(*) > 1"
    )
    assert duplicates == []
    assert not (tmp_path / "unused.duckdb").exists()
    assert _without_times(stored_data(postgres_url)) == _without_times(stored_data(clean_db))


def test_two_workers_on_one_warehouse_stay_within_a_keys_quota(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    world = World(seed=6, n_channels=3, videos_per_channel=300)
    quota = 30  # each channel needs 1 + 6 + 6 = 13 units: the three jobs need 39
    fingerprint = key_fingerprint("small-quota-key")
    with running_emulator(world, keys={"small-quota-key": quota}) as emu:
        emu.set_faults(latency_ms=20)
        jobs = [
            _jobs(redis_url, lambda q, cid=cid: q.submit(collect_spec([cid])))["job_id"]
            for cid in world.channel_ids()
        ]
        env = _env(
            emu, redis_url, tmp_path / "unused.duckdb", ["small-quota-key"],
            TUBESCOPE_DB_URL=postgres_url, TUBESCOPE_KEY_DAILY_QUOTA=str(quota),
            TUBESCOPE_WORKER_CONCURRENCY="2",
        )  # fmt: skip
        # One worker is told the warehouse by the environment, the other by --db.
        flagged = {k: v for k, v in env.items() if k != "TUBESCOPE_DB_URL"}
        with _worker(env, tmp_path), _worker(flagged, tmp_path, "--db", postgres_url):
            ended = [_wait_for(redis_url, job_id, _finished) for job_id in jobs]
        snapshot = httpx.get(f"{emu.root_url}/_admin/quota", timeout=10).json()["keys"][fingerprint]
        calls = ledger_calls(emu, "small-quota-key")
    assert snapshot["used_today"] <= quota
    assert sum(m["rejected"] for m in snapshot["methods"].values()) == 0, calls
    # Which jobs finish depends on how their requests interleave; none may go past the quota.
    stopped = [j for j in ended if j["state"] != "completed"]
    assert stopped and all("quota" in j["error"] for j in stopped), [j["error"] for j in stopped]
    assert rows(postgres_url, "SELECT count(*) FROM collection_runs")[0][0] == 3
    assert not (tmp_path / "unused.duckdb").exists()


def test_a_worker_stalled_past_its_lease_is_taken_over_and_neither_attempt_stores_twice(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    """A worker that stops (SIGSTOP: a starved machine) longer than the job lease is alive, not
    dead: when it wakes, the job and its run belong to the worker that took them over."""
    world = World(seed=12, n_channels=2, videos_per_channel=300)
    clean_db = tmp_path / "clean.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        emu.set_faults(latency_ms=40)
        env = _env(
            emu, redis_url, tmp_path / "unused.duckdb", emu.keys[:1],
            TUBESCOPE_DB_URL=postgres_url, TUBESCOPE_REQUESTS_PER_SECOND="4", TUBESCOPE_MAX_CONCURRENCY="1",
        )  # fmt: skip
        job_id = _jobs(redis_url, lambda q: q.submit(collect_spec(ids)))["job_id"]
        with _worker(env, tmp_path) as one, _worker(env, tmp_path) as two:
            first = _wait_for(redis_url, job_id, _running_with_stored(50))
            stalled, other = (one, two) if first["worker"].endswith(f":{one.pid}") else (two, one)
            stalled.send_signal(signal.SIGSTOP)
            try:
                taken = _wait_for(
                    redis_url, job_id, lambda j: j["attempts"] == 2 and j["state"] == "running", timeout=60
                )
            finally:
                stalled.send_signal(signal.SIGCONT)
            assert taken["worker"].endswith(f":{other.pid}")
            done = _wait_for(redis_url, job_id, _finished, timeout=120)
            time.sleep(2)  # the woken worker's own end of the job, had it recorded one
            after = _jobs(redis_url, lambda q: q.get(job_id))
            assert stalled.poll() is None and other.poll() is None
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        collect(ids, db_path=clean_db, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
    assert done["state"] == "completed", done
    assert after == done  # the superseded attempt recorded nothing over it
    assert done["attempts"] == 2 and done["worker"].endswith(f":{other.pid}")
    assert rows(postgres_url, "SELECT status, attempts FROM collection_runs") == [("completed", 2)]
    duplicates = rows(
        postgres_url, "SELECT video_id FROM video_snapshots GROUP BY video_id, run_id HAVING count(*) > 1"
    )
    assert duplicates == []
    assert _without_times(stored_data(postgres_url)) == _without_times(stored_data(clean_db))


def test_a_worker_killed_after_its_run_completed_leaves_a_retry_that_collects_nothing(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    """The kill lands between the run's completion and the job's record: the test holds the alert
    rules table locked, so the worker waits in the after-run alert check, its run completed and
    its job still running. The retry must report that run, not collect a second one."""
    world = World(seed=14, n_channels=2, videos_per_channel=150)
    with Warehouse.open(postgres_url):
        pass  # the schema, so the table to lock exists
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        env = _env(emu, redis_url, tmp_path / "unused.duckdb", emu.keys[:1], TUBESCOPE_DB_URL=postgres_url)
        job_id = _jobs(redis_url, lambda q: q.submit(collect_spec(ids)))["job_id"]
        with (
            psycopg.connect(postgres_url) as locker,
            psycopg.connect(postgres_url, autocommit=True) as reader,
        ):
            locker.execute("LOCK TABLE alert_rules IN ACCESS EXCLUSIVE MODE")
            with _worker(env, tmp_path) as first:
                deadline = time.monotonic() + 90
                while reader.execute("SELECT status FROM collection_runs").fetchall() != [("completed",)]:
                    assert time.monotonic() < deadline and first.poll() is None
                    time.sleep(0.02)
                held = _wait_for(redis_url, job_id, lambda j: "run_id" in j["progress"], timeout=30)
                assert held["state"] == "running"  # waiting on the lock, in the alert check
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=30)
            locker.rollback()
        calls = ledger_calls(emu)
        with _worker(env, tmp_path) as second:
            done = _wait_for(redis_url, job_id, _finished, timeout=60)
        assert ledger_calls(emu) == calls  # the retry sent not one request
    assert first.returncode == -signal.SIGKILL and second.returncode is not None
    assert done["state"] == "completed" and done["attempts"] == 2, done
    assert done["result"]["run_id"] == held["progress"]["run_id"]
    assert sorted(done["result"]["channels"]) == sorted(ids)
    assert rows(postgres_url, "SELECT status, attempts FROM collection_runs") == [("completed", 1)]
    duplicates = rows(
        postgres_url, "SELECT video_id FROM video_snapshots GROUP BY video_id HAVING count(*) > 1"
    )
    assert duplicates == []
