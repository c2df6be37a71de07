"""Real `tubescope serve` processes sharing one redis-server: limits, invalidation, restarts.

Two replicas and a `tubescope worker` share one DuckDB warehouse file and one Redis (rate
limits, cache entries, generations, the job queue). A server started without Redis shows the
embedded default: its disk tier answers after a restart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tubescope.jobs.collect import collect
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.servers import RedisServer, free_port
from tubescope.testing import EmulatorHandle

BURST = 40
RATE = 0.04  # 40 requests per 1000 s window: nothing refills during the test


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def metric(self, name: str, **labels: str) -> float:
        """One sample of this replica's /metrics (0 when absent)."""
        text = httpx.get(f"{self.url}/metrics", timeout=30).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass(frozen=True)
class Data:
    folder: Path
    tokens: dict[str, str]
    channel_id: str
    env: dict[str, str]

    def copy_to(self, name: str) -> Path:
        """A copy of the warehouse (and its token file) in a folder of its own."""
        target = self.folder / name
        target.mkdir()
        for path in self.folder.glob("warehouse.duckdb*"):
            if path.is_file():
                shutil.copy2(path, target / path.name)
        return target / "warehouse.duckdb"


@pytest.fixture(scope="module")
def data(emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Data:
    folder = tmp_path_factory.mktemp("replicas")
    db_path = folder / "warehouse.duckdb"
    channel_id = emulator.world.channel_ids()[0]
    collect([channel_id], db_path=db_path, api_keys=emulator.keys[:1], api_base=emulator.base_url)
    store = token_store_for(db_path)
    tokens = {
        name: store.create(scope, name)[0]
        for name, scope in (("read", Scope.READ), ("write", Scope.WRITE), ("limited", Scope.READ))
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    env |= {
        "TUBESCOPE_YOUTUBE_API_BASE": emulator.base_url,
        "TUBESCOPE_API_KEYS": json.dumps(emulator.keys[:1]),
        "TUBESCOPE_MODEL_DIR": str(folder / "models"),
        "TUBESCOPE_LOG_JSON": "true",
        # these tests count what the tiers give requests; a warmer would have answered them first
        "TUBESCOPE_CACHE_WARMING": "off",
        "TUBESCOPE_DB_PATH": str(folder / "shared" / "warehouse.duckdb"),
    }
    return Data(folder, tokens, channel_id, env)


def start(db_path: Path, env: dict[str, str]) -> Replica:
    port = free_port()
    log = db_path.with_suffix(f".{port}.log")
    command = [
        str(Path(sys.executable).with_name("tubescope")),
        "serve",
        "--db",
        str(db_path),
        "--port",
        str(port),
        "--rate-limit",
        str(RATE),
        "--rate-burst",
        str(BURST),
    ]
    with log.open("ab") as sink:
        process = subprocess.Popen(command, env=env, cwd=db_path.parent, stdout=sink, stderr=sink)
    replica = Replica(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{replica.url}/health", timeout=5).status_code == 200:
                return replica
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            replica.stop()
            raise AssertionError(f"tubescope serve did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def pair(data: Data, redis: RedisServer) -> Iterator[tuple[Replica, Replica]]:
    env = data.env | {"TUBESCOPE_REDIS_URL": redis.url}
    shared = data.copy_to("shared")
    one = start(shared, env)
    try:
        two = start(shared, env)
    except BaseException:
        one.stop()
        raise
    try:
        yield one, two
    finally:
        one.stop()
        two.stop()


def _get(replica: Replica, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{replica.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=120)


def test_one_tokens_limit_holds_across_both_replicas(pair: tuple[Replica, Replica], data: Data) -> None:
    answers = [_get(pair[i % 2], "/v1/jobs", data.tokens["limited"]) for i in range(2 * BURST + 20)]
    codes = [a.status_code for a in answers]
    assert codes.count(200) == BURST and codes.count(429) == BURST + 20
    assert set(codes[::2]) == set(codes[1::2]) == {200, 429}  # each replica admitted and refused
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)
    assert _get(pair[0], "/v1/jobs", data.tokens["read"]).status_code == 200  # another token's own budget


def test_a_run_queued_on_one_replica_invalidates_both_when_it_lands(
    pair: tuple[Replica, Replica], data: Data, redis: RedisServer
) -> None:
    one, two = pair
    path = f"/v1/channels/{data.channel_id}/analysis"
    computed = _get(two, path, data.tokens["read"])
    assert computed.status_code == 200
    shared = _get(one, path, data.tokens["read"])  # computed by two, shared through Redis
    assert shared.json() == computed.json()
    assert one.metric("tubescope_cache_tier_hits_total", tier="redis") >= 1
    assert one.metric("tubescope_cache_hits_total") == 1
    assert _get(two, path, data.tokens["read"]).status_code == 200
    misses_before = two.metric("tubescope_cache_misses_total")
    assert two.metric("tubescope_cache_hits_total") == 1  # its second request came from memory

    started = httpx.post(
        f"{one.url}/v1/channels",
        json={"ref": data.channel_id},
        headers={"Authorization": f"Bearer {data.tokens['write']}"},
        timeout=60,
    )
    assert started.status_code == 202
    job = started.json()
    # The job is queued in Redis; a worker runs it on the same warehouse file and, when the run
    # lands, bumps the channel's generation in Redis.
    worker = subprocess.run(
        [str(Path(sys.executable).with_name("tubescope")), "worker", "--burst"],
        env=data.env | {"TUBESCOPE_REDIS_URL": redis.url}, cwd=data.folder, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr[-3000:]
    job = _get(one, f"/v1/jobs/{job['job_id']}", data.tokens["read"]).json()
    assert job["state"] == "completed", job
    time.sleep(0.5)  # replicas reuse a generation read from Redis for up to 0.5 s (the default)

    assert _get(two, path, data.tokens["read"]).status_code == 200
    assert two.metric("tubescope_cache_misses_total") == misses_before + 1  # not its old memory entry
    again = _get(one, path, data.tokens["read"])
    assert again.status_code == 200 and again.json() == _get(two, path, data.tokens["read"]).json()


def test_a_restarted_server_answers_warm_from_its_disk_tier(data: Data) -> None:
    db_path = data.copy_to("alone")  # no Redis: the embedded default
    path = f"/v1/channels/{data.channel_id}/analysis"
    first = start(db_path, data.env)
    try:
        cold = _get(first, path, data.tokens["read"])
        assert cold.status_code == 200 and first.metric("tubescope_cache_misses_total") == 1
    finally:
        first.stop()
    again = start(db_path, data.env)
    try:
        warm = _get(again, path, data.tokens["read"])
        assert warm.status_code == 200 and warm.json() == cold.json()
        assert again.metric("tubescope_cache_hits_total") == 1
        assert again.metric("tubescope_cache_tier_hits_total", tier="disk") == 1
        assert again.metric("tubescope_cache_tier_hits_total", tier="memory") == 0
    finally:
        again.stop()
