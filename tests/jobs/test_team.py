"""The team deployment at once: two `tubescope serve` replicas and two `tubescope worker`
processes on one PostgreSQL warehouse and one Redis, and a CLI `collect` beside them, against
the emulator. One worker is killed mid-job; the result must equal a single-process collection."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.jobs.test_worker import _env, _running_with_stored, _without_times, _worker
from tests.pipeline.helpers import HOLD_LATENCY_MS, rows, stored_data
from tubescope.config import Settings
from tubescope.emulator.world import World
from tubescope.jobs.collect import collect
from tubescope.servers import free_port
from tubescope.testing import running_emulator


@contextmanager
def _replica(env: dict[str, str], cwd: Path) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tubescope.cli", "serve", "--port", str(port)],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _until(client: httpx.Client, job_id: str, done: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if done(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def _finished(job: dict[str, Any]) -> bool:
    return job["state"] in {"completed", "failed", "cancelled"}


def test_two_replicas_two_workers_and_a_cli_collect_on_postgres_equal_one_process(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    world = World(seed=12, n_channels=4, videos_per_channel=300)
    c0, c1, c2, c3 = world.channel_ids()
    clean_db = tmp_path / "clean.duckdb"
    with running_emulator(world) as emu:
        emu.set_faults(latency_ms=40)
        # 4 requests a second: the big job (about 25 requests) runs for about 6 s, several seconds
        # after its first group commit (up to 1 s of batches) shows 50 videos stored, so the kill
        # lands mid-job even when a poll is slow (at 10 a second, CI once saw the job finish first)
        env = _env(
            emu, redis_url, tmp_path / "unused.duckdb", emu.keys[:1],
            TUBESCOPE_DB_URL=postgres_url, TUBESCOPE_REQUESTS_PER_SECOND="4", TUBESCOPE_MAX_CONCURRENCY="1",
            TUBESCOPE_MODEL_DIR=str(tmp_path / "models"),
        )  # fmt: skip
        created = subprocess.run(
            [sys.executable, "-m", "tubescope.cli", "token", "create", "--scope", "write"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
        with (
            _replica(env, tmp_path) as one_url,
            _replica(env, tmp_path) as two_url,
            httpx.Client(base_url=one_url, headers=headers, timeout=60) as one,
            httpx.Client(base_url=two_url, headers=headers, timeout=60) as two,
            _worker(env, tmp_path) as first,
            _worker(env, tmp_path) as second,
        ):
            big = one.post("/v1/jobs", json={"refs": [c0, c1]})
            small = two.post("/v1/channels", json={"ref": c2})
            assert big.status_code == small.status_code == 202, (big.text, small.text)
            cli = subprocess.Popen(
                [sys.executable, "-m", "tubescope.cli", "collect", c3, "--json"],
                env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            running = _until(two, big.json()["job_id"], _running_with_stored(50))
            victim = first if running["worker"].endswith(f":{first.pid}") else second
            survivor = second if victim is first else first
            emu.set_faults(latency_ms=HOLD_LATENCY_MS)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            emu.set_faults(latency_ms=40)
            done = [_until(two, job.json()["job_id"], _finished) for job in (big, small)]
            seen_by_one = [one.get(f"/v1/jobs/{job['job_id']}").json() for job in done]
            out, err = cli.communicate(timeout=120)
            channels = {row["channel_id"] for row in one.get("/v1/channels").json()["items"]}
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        collect([c0, c1, c2, c3], db_path=clean_db, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
    assert cli.returncode == 0, err
    assert json.loads(out)["status"] == "completed"
    assert [j["state"] for j in done] == ["completed", "completed"], done
    assert seen_by_one == done  # every replica answers for every job
    assert done[0]["attempts"] == 2 and done[0]["worker"].endswith(f":{survivor.pid}")
    assert channels == {c0, c1, c2, c3}
    assert sorted(rows(postgres_url, "SELECT status, attempts FROM collection_runs")) == [
        ("completed", 1),
        ("completed", 1),
        ("completed", 2),
    ]
    duplicates = rows(
        postgres_url, "SELECT video_id FROM video_snapshots GROUP BY video_id, run_id HAVING count(*) > 1"
    )
    assert duplicates == []
    assert not (tmp_path / "unused.duckdb").exists()
    assert _without_times(stored_data(postgres_url)) == _without_times(stored_data(clean_db))
