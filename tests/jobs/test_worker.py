"""``tubescope worker`` as an operator runs it: real worker subprocesses, real redis-server, the
emulator on loopback. Jobs are queued through :class:`RedisJobs` (what the service calls)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pipeline.helpers import hold_after_videos_listed, ledger_calls, rows, stored_data
from tubescope.config import Settings
from tubescope.emulator.world import World
from tubescope.jobs.collect import collect
from tubescope.jobs.queue import DEFAULT_PREFIX, JobKind, JobSpec, RedisJobs, collect_spec
from tubescope.logging import key_fingerprint
from tubescope.testing import EmulatorHandle, running_emulator
from tubescope.youtube.shared_quota import RedisQuotaLedger


def _env(emu: EmulatorHandle, redis_url: str, db: Path, keys: Sequence[str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    env.update(
        TUBESCOPE_YOUTUBE_API_BASE=emu.base_url,
        TUBESCOPE_API_KEYS=json.dumps(list(keys)),
        TUBESCOPE_REDIS_URL=redis_url,
        TUBESCOPE_DB_PATH=str(db),
        TUBESCOPE_REQUESTS_PER_SECOND="1000",
        TUBESCOPE_MAX_RETRIES="3",
        TUBESCOPE_JOB_LEASE_SECONDS="1.5",
    )
    env.update(extra)
    return env


@contextmanager
def _worker(env: dict[str, str], cwd: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tubescope.cli", "--log-json", "worker", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate(timeout=10)


def _jobs(redis_url: str, call: Callable[[RedisJobs], Any], prefix: str = DEFAULT_PREFIX) -> Any:
    async def go() -> Any:
        jobs = await RedisJobs.connect(redis_url, prefix)
        try:
            return await call(jobs)
        finally:
            await jobs.aclose()

    return asyncio.run(go())


def _wait_for(
    redis_url: str, job_id: str, done: Callable[[dict[str, Any]], bool], *, timeout: float = 90
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = _jobs(redis_url, lambda jobs: jobs.get(job_id))
        if done(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _running_with_stored(videos: int) -> Callable[[dict[str, Any]], bool]:
    """A job that is running and has committed at least ``videos`` videos (no progress yet: none)."""
    return lambda job: job["state"] == "running" and job["progress"].get("videos_stored", 0) >= videos


def _finished(job: dict[str, Any]) -> bool:
    return job["state"] in {"completed", "failed", "cancelled"}


def _without_times(data: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: sorted(tuple(v for v in row if not isinstance(v, datetime)) for row in table)
        for name, table in data.items()
    }


def test_a_job_survives_sigkill_of_its_worker_and_another_worker_resumes_the_same_run(
    tmp_path: Path, redis_url: str
) -> None:
    world = World(seed=4, n_channels=2, videos_per_channel=400)
    db, clean_db = tmp_path / "shared.duckdb", tmp_path / "clean.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        emu.set_faults(latency_ms=60)
        env = _env(
            emu, redis_url, db, emu.keys[:1], TUBESCOPE_REQUESTS_PER_SECOND="6", TUBESCOPE_MAX_CONCURRENCY="1"
        )
        job_id = _jobs(redis_url, lambda jobs: jobs.submit(collect_spec(ids)))["job_id"]
        with _worker(env, tmp_path) as first:
            hold_after_videos_listed(emu, 2)
            running = _wait_for(redis_url, job_id, _running_with_stored(50))
            assert running["worker"].endswith(f":{first.pid}")
            # A second worker on the same DuckDB file is waiting for work when the first dies.
            with _worker(env, tmp_path) as second:
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=30)
                emu.set_faults(latency_ms=60)
                killed_at = time.monotonic()
                assert first.returncode == -signal.SIGKILL
                resumed = _wait_for(redis_url, job_id, lambda j: j["attempts"] == 2)
                taken_after = time.monotonic() - killed_at
                job = _wait_for(redis_url, job_id, _finished)
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        collect(ids, db_path=clean_db, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
    assert job["state"] == "completed", job
    assert job["attempts"] == 2 and job["worker"].endswith(f":{second.pid}")
    assert resumed["worker"].endswith(f":{second.pid}") and taken_after < 30  # lease 1.5 s, not 6 h
    assert job["result"]["resumed"] is True and job["result"]["status"] == "completed"
    assert job["result"]["videos_new"] < 800  # the first worker's batches were not fetched again
    assert rows(db, "SELECT status, attempts FROM collection_runs") == [("completed", 2)]
    duplicates = rows(
        db, "SELECT video_id FROM video_snapshots GROUP BY video_id, run_id HAVING count(*) > 1"
    )
    assert duplicates == []
    assert _without_times(stored_data(db)) == _without_times(stored_data(clean_db))


def test_sigterm_puts_the_job_back_on_the_queue_at_a_checkpoint(tmp_path: Path, redis_url: str) -> None:
    world = World(seed=5, n_channels=1, videos_per_channel=400)
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        emu.set_faults(latency_ms=60)
        env = _env(
            emu, redis_url, db, emu.keys[:1], TUBESCOPE_REQUESTS_PER_SECOND="6", TUBESCOPE_MAX_CONCURRENCY="1"
        )
        job_id = _jobs(redis_url, lambda jobs: jobs.submit(collect_spec(world.channel_ids())))["job_id"]
        with _worker(env, tmp_path) as first:
            hold_after_videos_listed(emu, 2)
            _wait_for(redis_url, job_id, lambda j: j["progress"].get("videos_stored", 0) >= 50)
            first.send_signal(signal.SIGTERM)
            _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        waiting = _jobs(redis_url, lambda jobs: jobs.get(job_id))
        depth = _jobs(redis_url, lambda jobs: jobs.depth())
        assert rows(db, "SELECT status FROM collection_runs") == [("interrupted",)]
        emu.set_faults(latency_ms=0)
        with _worker(env, tmp_path, "--burst") as second:
            second.communicate(timeout=120)
        job = _jobs(redis_url, lambda jobs: jobs.get(job_id))
    assert waiting["state"] == "queued" and depth == 1
    assert job["state"] == "completed" and job["attempts"] == 2, job
    assert rows(db, "SELECT status, attempts FROM collection_runs") == [("completed", 2)]


def test_two_workers_never_spend_more_than_a_keys_daily_quota_between_them(
    tmp_path: Path, redis_url: str
) -> None:
    world = World(seed=6, n_channels=2, videos_per_channel=600)
    quota = 30  # one channel needs 1 + 12 + 12 = 25 units: the two jobs need 50
    fingerprint = key_fingerprint("small-quota-key")
    with running_emulator(world, keys={"small-quota-key": quota}) as emu:
        ids = world.channel_ids()
        emu.set_faults(latency_ms=20)
        jobs = [_jobs(redis_url, lambda q, cid=cid: q.submit(collect_spec([cid])))["job_id"] for cid in ids]
        extra = {"TUBESCOPE_KEY_DAILY_QUOTA": str(quota), "TUBESCOPE_MAX_CONCURRENCY": "2"}
        # DuckDB has one writer per file: each worker writes its own (PostgreSQL shares one).
        with (
            _worker(_env(emu, redis_url, tmp_path / "a.duckdb", ["small-quota-key"], **extra), tmp_path),
            _worker(_env(emu, redis_url, tmp_path / "b.duckdb", ["small-quota-key"], **extra), tmp_path),
        ):
            ended = [_wait_for(redis_url, job_id, _finished) for job_id in jobs]
        snapshot = httpx.get(f"{emu.root_url}/_admin/quota", timeout=10).json()["keys"][fingerprint]
        calls = ledger_calls(emu)
    rejected = sum(m["rejected"] for m in snapshot["methods"].values())

    async def ledger_spent() -> int:
        ledger = RedisQuotaLedger.from_url(redis_url, quota)
        try:
            return await ledger.spent(fingerprint)
        finally:
            await ledger.aclose()

    spent = asyncio.run(ledger_spent())
    used = snapshot["used_today"]
    assert used <= quota
    assert rejected == 0, calls  # no quotaExceeded the ledger did not foresee
    assert spent == used  # the ledger reserved exactly what the API billed
    states = sorted(j["state"] for j in ended)
    assert "failed" in states  # the budget ran out for one of them...
    stopped = [j for j in ended if j["state"] == "failed"]
    assert all((j["result"] or {}).get("status", "quota_stopped") == "quota_stopped" for j in stopped)
    assert all("quota" in (j["error"] or "") for j in stopped), stopped  # ...and says why


def test_two_jobs_over_the_same_channels_run_one_after_the_other(tmp_path: Path, redis_url: str) -> None:
    world = World(seed=8, n_channels=1, videos_per_channel=150)
    with running_emulator(world) as emu:
        emu.set_faults(latency_ms=30)
        refs = world.channel_ids()
        job_ids = [_jobs(redis_url, lambda q: q.submit(collect_spec(refs)))["job_id"] for _ in range(2)]
        extra = {"TUBESCOPE_REQUESTS_PER_SECOND": "20", "TUBESCOPE_MAX_CONCURRENCY": "1"}
        with (
            _worker(_env(emu, redis_url, tmp_path / "a.duckdb", emu.keys[:1], **extra), tmp_path),
            _worker(_env(emu, redis_url, tmp_path / "b.duckdb", emu.keys[:1], **extra), tmp_path),
        ):
            first, second = sorted(
                (_wait_for(redis_url, job_id, _finished) for job_id in job_ids), key=lambda j: j["started_at"]
            )
    assert first["state"] == second["state"] == "completed"
    assert first["finished_at"] <= second["started_at"]


def test_export_and_report_jobs_run_on_a_worker_and_write_under_the_output_dir(
    tmp_path: Path, redis_url: str
) -> None:
    world = World(seed=7, n_channels=2, videos_per_channel=60)
    db, out = tmp_path / "w.duckdb", tmp_path / "out"
    with running_emulator(world) as emu:
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        ids = world.channel_ids()
        summary = collect(ids, db_path=db, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
        env = _env(emu, redis_url, db, emu.keys[:1], TUBESCOPE_OUTPUT_DIR=str(out))
        specs = [
            JobSpec(JobKind.EXPORT, {"tables": ["videos"]}),
            JobSpec(JobKind.REPORT, {"channel": ids[0]}),
            JobSpec(JobKind.REPORT, {"channel": "@nobody-here"}),
        ]
        job_ids = [_jobs(redis_url, lambda q, spec=spec: q.submit(spec))["job_id"] for spec in specs]
        with _worker(env, tmp_path, "--burst") as worker:
            _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err
        exported, reported, failed = (_jobs(redis_url, lambda q, i=i: q.get(i)) for i in job_ids)
    assert exported["state"] == "completed", exported
    assert exported["result"]["tables"] == ["videos"] and exported["result"]["rows"] == summary.videos_new
    assert Path(exported["result"]["out_dir"]).is_relative_to(out / job_ids[0])
    assert reported["state"] == "completed", reported
    assert Path(reported["result"]["path"]).read_text(encoding="utf-8").startswith("<!")
    assert reported["result"]["channel_id"] == ids[0]
    assert failed["state"] == "failed" and "not in the warehouse" in failed["error"]
    # Each job that ran is timed in the shared histogram every replica's /metrics shows.
    tallies = _jobs(redis_url, lambda q: q.durations())
    assert {k: t.count for k, t in tallies.items()} == {
        ("export", "completed"): 1,
        ("report", "completed"): 1,
        ("report", "failed"): 1,
    }
    took = [
        (datetime.fromisoformat(j["finished_at"]) - datetime.fromisoformat(j["started_at"])).total_seconds()
        for j in (exported, reported, failed)
    ]
    assert tallies[("export", "completed")].total_seconds == pytest.approx(took[0], abs=1e-3)
    assert sum(t.total_seconds for t in tallies.values()) == pytest.approx(sum(took), abs=1e-3)


def test_a_cancelled_queued_job_never_runs(tmp_path: Path, redis_url: str) -> None:
    job = _jobs(redis_url, lambda q: q.submit(collect_spec(["@somebody"])))
    cancelled = _jobs(redis_url, lambda q: q.cancel(job["job_id"]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    env.update(TUBESCOPE_REDIS_URL=redis_url, TUBESCOPE_DB_PATH=str(tmp_path / "w.duckdb"))
    with _worker(env, tmp_path, "--burst") as worker:
        _, err = worker.communicate(timeout=60)
    after = _jobs(redis_url, lambda q: q.get(job["job_id"]))
    assert worker.returncode == 0, err
    assert cancelled["state"] == after["state"] == "cancelled"
    assert after["attempts"] == 0 and not (tmp_path / "w.duckdb").exists()
    assert _jobs(redis_url, lambda q: q.durations()) == {}  # it never ran: nothing to time


def test_worker_without_redis_is_one_line_and_exit_two(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    result = subprocess.run(
        [sys.executable, "-m", "tubescope.cli", "worker"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "TUBESCOPE_REDIS_URL" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "http://nope"])
def test_worker_with_unreachable_or_bad_redis_is_one_line(tmp_path: Path, url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    result = subprocess.run(
        [sys.executable, "-m", "tubescope.cli", "worker", "--redis-url", url],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode in (2, 10), result.stderr
    assert "Traceback" not in result.stderr and "error:" in result.stderr


def test_a_worker_keeps_to_its_redis_prefix_and_counts_the_units_its_jobs_spent(
    tmp_path: Path, redis_url: str
) -> None:
    import redis as redis_client

    from tests.pipeline.helpers import ledger_units

    world = World(seed=6, n_channels=2, videos_per_channel=60)
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        env = _env(emu, redis_url, db, emu.keys[:1], TUBESCOPE_REDIS_PREFIX="team-a:")
        # Another deployment on the same Redis (the default prefix) has a job waiting too.
        other = _jobs(redis_url, lambda jobs: jobs.submit(collect_spec(ids[1:])))["job_id"]
        ours = _jobs(redis_url, lambda jobs: jobs.submit(collect_spec(ids[:1])), "team-a:")["job_id"]
        with _worker(env, tmp_path, "--burst") as worker:
            _, stderr = worker.communicate(timeout=120)
        assert worker.returncode == 0, stderr
        billed = ledger_units(emu)
    job = _jobs(redis_url, lambda jobs: jobs.get(ours), "team-a:")
    assert job["state"] == "completed", job
    assert _jobs(redis_url, lambda jobs: jobs.get(other))["state"] == "queued"  # not ours to run
    assert _jobs(redis_url, lambda jobs: jobs.depth()) == 1
    assert _jobs(redis_url, lambda jobs: jobs.depth(), "team-a:") == 0
    # Units: what the emulator billed the key, the job's own count and the shared count agree.
    assert _jobs(redis_url, lambda jobs: jobs.quota_units_spent(), "team-a:") == billed
    assert job["progress"]["quota_used"] == billed > 0
    assert _jobs(redis_url, lambda jobs: jobs.quota_units_spent()) == 0
    client = redis_client.Redis.from_url(redis_url)
    try:
        names = sorted(k.decode() for k in client.keys("*"))
    finally:
        client.close()
    assert any(n.startswith("team-a:quota:") for n in names)  # the shared daily ledger too
    assert any(n.startswith("team-a:job:") for n in names) and "team-a:metrics:quota_units_spent" in names
    strays = [n for n in names if not n.startswith(("team-a:", "tubescope:", "arq:"))]
    assert strays == []
    assert [n for n in names if n.startswith("tubescope:")] == sorted(
        ["tubescope:jobs", "tubescope:queue", f"tubescope:job:{other}"]
    )
