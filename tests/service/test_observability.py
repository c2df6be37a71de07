"""What an operator sees of a running ``tubescope serve``: request ids, JSON access logs, metrics.

The service runs as a real subprocess (stderr to a file, so not a TTY), collecting from the
emulator on loopback; the tests read its log file and scrape its ``/metrics``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.logging import key_fingerprint
from tubescope.testing import EmulatorHandle


@dataclass
class Served:
    url: str
    log_file: Path
    token: str
    token_id: str
    key: str
    emulator: EmulatorHandle

    def log_lines(self) -> list[dict[str, Any]]:
        """Every line the service wrote so far, each parsed as JSON (a non-JSON line fails the test)."""
        return [json.loads(line) for line in self.log_file.read_text().splitlines() if line.strip()]

    def lines_of_request(self, request_id: str) -> list[dict[str, Any]]:
        """The lines bound to ``request_id``, once its access line is written (just after the answer)."""
        deadline = time.monotonic() + 10
        while True:
            lines = [line for line in self.log_lines() if line.get("request_id") == request_id]
            if any(line["event"] == "http.request" for line in lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("observed")
    db_path = folder / "warehouse.duckdb"
    token, info = token_store_for(db_path).create(Scope.WRITE, "observer")
    key = emulator.keys[0]
    env = {
        **os.environ,
        "TUBESCOPE_DB_PATH": str(db_path),
        "TUBESCOPE_YOUTUBE_API_BASE": emulator.base_url,
        "TUBESCOPE_API_KEYS": json.dumps([key]),
        "TUBESCOPE_MODEL_DIR": str(folder / "models"),
        "TUBESCOPE_LOG_LEVEL": "info",
        # the metrics test needs requests that miss the cache; a warmer would have answered them
        "TUBESCOPE_CACHE_WARMING": "off",
    }
    env.pop("TUBESCOPE_LOG_JSON", None)
    port = _free_port()
    log_file = folder / "service.log"
    with log_file.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tubescope.cli", "serve", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"serve exited: {log_file.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "serve did not start within 90 s"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield Served(url, log_file, token, info.token_id, key, emulator)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def finished_job(served: Served) -> dict[str, Any]:
    """One collection job started through the API with a request id of the caller's choosing."""
    channel_id = served.emulator.world.channel_ids()[4]
    headers = {"Authorization": f"Bearer {served.token}", "X-Request-ID": "obs-req-0001"}
    with httpx.Client(base_url=served.url, headers=headers, timeout=60) as client:
        started = client.post("/v1/jobs", json={"refs": [channel_id]})
        assert started.status_code == 202, started.text
        assert started.headers["x-request-id"] == "obs-req-0001"
        job_id = started.json()["job_id"]
        deadline = time.monotonic() + 120
        while (job := client.get(f"/v1/jobs/{job_id}").json())["state"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.2)
        assert job["state"] == "completed", job
        assert job["request_id"] == "obs-req-0001"
        for _ in range(2):  # a miss, then a hit in the memory tier
            assert client.get(f"/v1/channels/{channel_id}/analysis").status_code == 200
    return {"job_id": job_id, "channel_id": channel_id}


def test_logs_are_json_lines_off_a_tty(served: Served, finished_job: dict[str, Any]) -> None:
    lines = served.log_lines()
    assert lines and all({"event", "level", "timestamp"} <= line.keys() for line in lines)


def test_the_request_id_is_on_the_access_line_and_on_every_line_of_the_job(
    served: Served, finished_job: dict[str, Any]
) -> None:
    deadline = time.monotonic() + 10  # the job's last line may follow its "completed" state by a moment
    finished = {"job_id": finished_job["job_id"], "event": "job.finished"}
    lines = served.log_lines()
    while not any(finished.items() <= line.items() for line in lines):
        assert time.monotonic() < deadline, "job.finished was never logged"
        time.sleep(0.05)
        lines = served.log_lines()
    access = [
        line for line in lines if line["event"] == "http.request" and line.get("request_id") == "obs-req-0001"
    ]
    posted = next(line for line in access if line["method"] == "POST")
    assert posted["route"] == "/v1/jobs" and posted["status"] == 202
    assert posted["token_id"] == served.token_id and posted["duration_ms"] > 0
    polled = [line for line in access if line["route"] == "/v1/jobs/{job_id}"]
    assert polled and all(line["status"] == 200 for line in polled)

    of_job = [line for line in lines if line.get("job_id") == finished_job["job_id"]]
    events = {line["event"] for line in of_job}
    assert {"job.queued", "job.started", "job.finished", "collect.started", "collect.finished"} <= events
    assert all(line.get("request_id") == "obs-req-0001" for line in of_job)
    assert any("run_id" in line for line in of_job)
    text = served.log_file.read_text()
    assert served.token not in text and served.key not in text


def test_a_request_without_an_id_gets_a_fresh_one_and_a_bad_one_is_replaced(served: Served) -> None:
    first = httpx.get(f"{served.url}/health")
    second = httpx.get(f"{served.url}/health", headers={"X-Request-ID": "bad id with spaces\t!"})
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids) and ids[0] != ids[1]


def test_a_missing_token_is_a_readable_401(served: Served) -> None:
    answer = httpx.get(f"{served.url}/v1/jobs")
    assert answer.status_code == 401
    message = answer.json()["error"]["message"]
    assert "REDACTED" not in message and "Authorization: Bearer <token>" in message
    access = served.lines_of_request(answer.headers["x-request-id"])
    assert [(line["status"], line["token_id"]) for line in access] == [(401, None)]


def test_metrics_after_a_collection_name_everything_an_operator_watches(
    served: Served, finished_job: dict[str, Any]
) -> None:
    deadline = time.monotonic() + 10  # the job's duration is observed a moment after it reads "completed"
    while "tubescope_job_duration_seconds_count{" not in (text := httpx.get(f"{served.url}/metrics").text):
        assert time.monotonic() < deadline, "no job duration in /metrics"
        time.sleep(0.05)
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))

    def value(name: str, **labels: str) -> float:
        found = [v for have, v in samples.get(name, []) if labels.items() <= have.items()]
        assert found, f"{name}{labels} is not in /metrics"
        return found[0]

    assert value("process_cpu_seconds_total") > 0
    assert value("process_resident_memory_bytes") > 10_000_000
    assert value("process_open_fds") > 0
    assert value("tubescope_build_info", version=__import__("tubescope").__version__) == 1
    collected_at = value(
        "tubescope_channel_last_collection_timestamp_seconds", channel_id=finished_job["channel_id"]
    )
    # Snapshots are dated by the API's Date header: the emulator's clock, not this machine's.
    assert abs(collected_at - served.emulator.clock.now().timestamp()) < 600
    assert value("tubescope_job_queue_depth", queue="default") == 0
    assert value("tubescope_jobs", state="completed") >= 1
    assert value("tubescope_job_duration_seconds_count", kind="collect", outcome="completed") == 1
    assert value("tubescope_job_duration_seconds_sum", kind="collect", outcome="completed") > 0
    assert value("tubescope_cache_hits_total") >= 1 and value("tubescope_cache_misses_total") >= 1
    assert value("tubescope_cache_tier_hits_total", tier="memory") >= 1
    assert value("tubescope_cache_tier_misses_total", tier="memory") >= 1
    assert value("tubescope_cache_tier_bytes", tier="memory") > 0
    fingerprint = key_fingerprint(served.key)
    spent = value("tubescope_quota_units_spent_total")
    assert spent > 0
    assert value("tubescope_quota_limit_units", key=fingerprint, bucket="default") == 10_000
    assert value("tubescope_quota_remaining_units", key=fingerprint, bucket="default") == 10_000 - spent
    assert value("tubescope_http_request_duration_seconds_count", route="/v1/jobs", status="2xx") >= 1
    assert served.key not in text
