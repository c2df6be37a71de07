"""The team shape on real servers: PostgreSQL, redis-server, two API replicas, two workers and a
CLI collect, all at once against the emulator.

- The result equals a single-process collection of the same world: same videos, the same
  snapshot counts, no duplicates.
- A SIGKILL of one worker mid-job loses nothing: the job finishes on the other worker.
- One token's rate limit holds across both replicas.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tubescope.emulator.world import World
from tubescope.jobs.collect import collect
from tubescope.servers import free_port
from tubescope.testing import running_emulator
from tubescope.warehouse import Warehouse


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


_LOGS: dict[int, Path] = {}
"""Each started process's stderr file, by pid."""


def _stderr(process: subprocess.Popen[str]) -> str:
    """What ``process`` has written to stderr so far."""
    log = _LOGS.get(process.pid)
    return log.read_text(errors="replace") if log is not None and log.exists() else ""


@contextmanager
def _process(env: dict[str, str], cwd: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    # stderr goes to a file: a server writes a log line per request, and a pipe nobody reads
    # fills up and then blocks the server's event loop mid-test.
    log = cwd / f"process-{len(_LOGS)}-{args[-1].replace('/', '_')}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tubescope.cli", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            text=True,
        )
    _LOGS[process.pid] = log
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


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert process.poll() is None, _stderr(process) or "replica died"
        assert time.monotonic() < deadline, "replica did not start"
        time.sleep(0.1)


def _job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job's record, waiting out this token's rate limit (5 requests/s in this test)."""
    while True:
        response = client.get(f"/v1/jobs/{job_id}")
        if response.status_code != 429:
            assert response.status_code == 200, response.text
            record: dict[str, Any] = response.json()
            return record
        time.sleep(float(response.headers.get("Retry-After", "1")))


def _stored(target: str | Path) -> dict[str, pd.DataFrame]:
    with Warehouse.open(target, read_only=True) as warehouse:
        frames = warehouse.load_frames()
    videos = frames["videos"][["video_id", "channel_id", "title", "duration_seconds"]]
    snaps = frames["video_snapshots"]
    per_video = (
        snaps.groupby("video_id", observed=True)
        .agg(snapshots=("view_count", "size"), views=("view_count", "max"))
        .reset_index()
    )
    return {
        "videos": videos.astype(str).sort_values("video_id").reset_index(drop=True),
        "snapshots": per_video.astype(str).sort_values("video_id").reset_index(drop=True),
    }


def test_two_replicas_two_workers_and_the_cli_share_a_postgres_warehouse(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    world = World(seed=21, n_channels=6, videos_per_channel=240)
    ids = world.channel_ids()
    with running_emulator(world) as emu:
        # Slow enough that a job is still running when the test looks for one to kill: on a quiet
        # machine at 40 ms both jobs finished within 2 s, between two of the rate-limited polls.
        emu.set_faults(latency_ms=200)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
        env.update(
            TUBESCOPE_DB_URL=postgres_url,
            TUBESCOPE_REDIS_URL=redis_url,
            TUBESCOPE_YOUTUBE_API_BASE=emu.base_url,
            TUBESCOPE_API_KEYS=json.dumps(emu.keys[:2]),
            TUBESCOPE_MODEL_DIR=str(tmp_path / "models"),
            TUBESCOPE_OUTPUT_DIR=str(tmp_path / "outputs"),
            TUBESCOPE_REQUESTS_PER_SECOND="20",
            TUBESCOPE_MAX_CONCURRENCY="2",
            TUBESCOPE_JOB_LEASE_SECONDS="1.5",
        )
        writer = _cli(env, tmp_path, "token", "create", "--scope", "write", "--name", "team")
        assert writer.returncode == 0, writer.stderr
        token = writer.stdout.strip().splitlines()[-1]
        limited = _cli(env, tmp_path, "token", "create", "--scope", "read", "--name", "limited")
        assert limited.returncode == 0, limited.stderr
        limited_token = limited.stdout.strip().splitlines()[-1]

        ports = [free_port(), free_port()]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        with ExitStack() as stack:
            replicas = [
                stack.enter_context(
                    _process(
                        env, tmp_path, "serve", "--port", str(port), "--rate-limit", "5", "--rate-burst", "10"
                    )
                )
                for port in ports
            ]
            for url, replica in zip(urls, replicas, strict=True):
                _wait_healthy(url, replica)
            workers = {}
            for _ in range(2):
                worker = stack.enter_context(_process(env, tmp_path, "--log-json", "worker"))
                workers[worker.pid] = worker
            clients = [
                stack.enter_context(
                    httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
                )
                for url in urls
            ]

            # One token's limit across both replicas: a burst of 10 plus 5/s, however it is spread.
            started = time.monotonic()
            codes = []
            for n in range(40):
                response = httpx.get(
                    f"{urls[n % 2]}/v1/channels",
                    headers={"Authorization": f"Bearer {limited_token}"},
                    timeout=30,
                )
                codes.append(response.status_code)
            elapsed = time.monotonic() - started
            allowed = 10 + 5 * elapsed
            assert codes.count(200) <= allowed + 1, (codes, elapsed)
            assert codes.count(429) >= 40 - allowed - 1
            assert set(codes) <= {200, 429}

            first = clients[0].post("/v1/jobs", json={"refs": ids[:3]})
            second = clients[1].post("/v1/jobs", json={"refs": ids[3:5]})
            assert first.status_code == 202, first.text
            assert second.status_code == 202, second.text
            job_ids = [first.json()["job_id"], second.json()["job_id"]]
            cli_collect = stack.enter_context(_process(env, tmp_path, "collect", ids[5]))

            # Kill whichever worker is well into a job; the other must finish it.
            deadline = time.monotonic() + 180
            killed: int | None = None
            seen: list[dict[str, Any]] = []
            while killed is None:
                seen = []
                for n, job_id in enumerate(job_ids):
                    job = _job(clients[n % 2], job_id)
                    seen.append(job)
                    if job["state"] == "running" and job["progress"]["videos_stored"] >= 30:
                        killed = int(str(job["worker"]).rsplit(":", 1)[1])
                        break
                assert time.monotonic() < deadline, f"no job got going: {seen}"
                time.sleep(0.3)
            workers[killed].send_signal(signal.SIGKILL)
            workers[killed].wait(timeout=30)

            deadline = time.monotonic() + 300
            finished: dict[str, dict[str, Any]] = {}
            while len(finished) < len(job_ids):
                for n, job_id in enumerate(job_ids):
                    job = _job(clients[(n + 1) % 2], job_id)
                    if job["state"] in {"completed", "failed", "cancelled"}:
                        finished[job_id] = job
                assert time.monotonic() < deadline, finished
                time.sleep(0.5)
            assert {job["state"] for job in finished.values()} == {"completed"}, finished
            assert cli_collect.wait(timeout=300) == 0, _stderr(cli_collect)
            survivors = [pid for pid in workers if pid != killed]
            assert all(workers[pid].poll() is None for pid in survivors)

            time.sleep(2)  # a fresh second of the write token's budget
            listed = {row["channel_id"] for row in clients[1].get("/v1/channels").json()["items"]}
            assert listed == set(ids)

        # The same world collected by one process into the embedded default.
        emu.set_faults(latency_ms=0)
        single = tmp_path / "single.duckdb"
        collect(ids, db_path=single, api_keys=emu.keys[:1], api_base=emu.base_url)

    team, alone = _stored(postgres_url), _stored(single)
    pd.testing.assert_frame_equal(team["videos"], alone["videos"])
    pd.testing.assert_frame_equal(team["snapshots"], alone["snapshots"])
    assert set(team["snapshots"]["snapshots"]) == {"1"}  # one snapshot per video: nothing duplicated


pytestmark = pytest.mark.timeout(900)
