"""With TUBESCOPE_REDIS_URL the service queues jobs in Redis: any replica answers for any job, and a
``tubescope worker`` process runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.pipeline.helpers import ledger_units
from tests.service.conftest import serve
from tubescope.config import load_settings
from tubescope.jobs.collect import collect
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.service.app import create_app
from tubescope.service.state import ServiceOptions
from tubescope.testing import EmulatorHandle


@pytest.fixture
def replicas(
    emulator: EmulatorHandle, tmp_path: Path, redis_url: str
) -> Iterator[tuple[list[httpx.Client], Path, list[str]]]:
    """Two service replicas over one warehouse and one Redis, with a write token."""
    db_path = tmp_path / "warehouse.duckdb"
    channel_ids = emulator.world.channel_ids()[:2]
    collect(channel_ids, db_path=db_path, api_keys=emulator.keys[:1], api_base=emulator.base_url)
    settings = load_settings(db_path=db_path, redis_url=redis_url, youtube_api_base=emulator.base_url)
    store = token_store_for(db_path)
    token, _ = store.create(Scope.WRITE, "test-write")
    options = ServiceOptions(db_path=db_path, token_file=store.path, rate_per_second=1000, rate_burst=1000)
    served = [serve(create_app(settings, options)) for _ in range(2)]
    clients = [
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        for url, _, _ in served
    ]
    try:
        yield clients, db_path, channel_ids
    finally:
        for client in clients:
            client.close()
        for _, server, thread in served:
            server.should_exit = True
            thread.join(timeout=30)


def _until_finished(client: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in {"completed", "failed", "cancelled"}:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_refresh_all_is_queued_on_one_replica_run_by_a_worker_and_seen_from_the_other(
    replicas: tuple[list[httpx.Client], Path, list[str]],
    emulator: EmulatorHandle,
    redis_url: str,
    tmp_path: Path,
) -> None:
    (first, second), db_path, channel_ids = replicas
    started = first.post("/v1/jobs", json={"refresh": "all"}, headers={"X-Request-ID": "team-req-0001"})
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] == "queued" and job["kind"] == "collect"
    assert job["request_id"] == "team-req-0001"
    assert sorted(job["refs"]) == sorted(channel_ids)
    assert second.get(f"/v1/jobs/{job['job_id']}").json()["state"] == "queued"
    assert job["job_id"] in [j["job_id"] for j in second.get("/v1/jobs").json()["items"]]
    waiting = _samples(second.get("/metrics").text)
    assert waiting[("tubescope_jobs", (("state", "queued"),))] == 1
    assert waiting[("tubescope_job_queue_depth", (("queue", "default"),))] == 1
    assert not any(name.startswith("tubescope_job_duration_seconds") for name, _ in waiting)
    assert waiting[("tubescope_quota_units_spent_total", ())] == 0
    # The worker spends the emulator's second key, which no other test of this package uses: jobs
    # that other tests queued in their own services may still be spending the first one.
    worker_key = emulator.keys[1]
    billed_before = ledger_units(emulator, worker_key)

    # The worker writes the replicas' DuckDB file: the file is handed over between uses.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    env.update(
        TUBESCOPE_REDIS_URL=redis_url,
        TUBESCOPE_DB_PATH=str(db_path),
        TUBESCOPE_YOUTUBE_API_BASE=emulator.base_url,
        TUBESCOPE_API_KEYS=json.dumps([worker_key]),
    )
    worker = subprocess.run(
        [sys.executable, "-m", "tubescope.cli", "worker", "--burst"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr
    billed = ledger_units(emulator, worker_key) - billed_before  # what the emulator charged: the truth
    done = _until_finished(second, job["job_id"])
    assert done["state"] == "completed", done
    assert done["attempts"] == 1 and done["worker"]
    assert sorted(done["result"]["channels"]) == sorted(channel_ids)
    assert done["progress"]["channels_done"] == len(channel_ids)
    assert first.get(f"/v1/jobs/{job['job_id']}").json() == done
    assert done["result"]["run_id"] == 2  # a second run on the replicas' own warehouse

    # The worker's job is in both replicas' /metrics: off the queue, and its duration (start to
    # finish, as its record says) in the shared histogram, each replica showing the same figures.
    took = (
        datetime.fromisoformat(done["finished_at"]) - datetime.fromisoformat(done["started_at"])
    ).total_seconds()
    series = (("kind", "collect"), ("outcome", "completed"))
    for replica in (first, second):
        after = _samples(replica.get("/metrics").text)
        assert after[("tubescope_job_queue_depth", (("queue", "default"),))] == 0
        # The units the worker's job spent, counted once on every replica.
        assert after[("tubescope_quota_units_spent_total", ())] == billed > 0
        assert after[("tubescope_quota_units_spent_total", ())] == done["progress"]["quota_used"]
        assert after[("tubescope_job_duration_seconds_count", series)] == 1
        assert after[("tubescope_job_duration_seconds_sum", series)] == pytest.approx(took, abs=0.01)
        buckets = {
            dict(labels)["le"]: n
            for (name, labels), n in after.items()
            if name == "tubescope_job_duration_seconds_bucket" and set(series) <= set(labels)
        }
        assert buckets["+Inf"] == 1 and list(buckets.values()) == sorted(buckets.values())
        assert all(n == (float(le) >= took) for le, n in buckets.items() if le != "+Inf")

    # Every line the worker logged for the job names the request that started it.
    lines = [json.loads(line) for line in worker.stderr.splitlines() if line.startswith("{")]
    of_job = [line for line in lines if line.get("job_id") == job["job_id"]]
    assert {"job.started", "collect.started", "collect.finished"} <= {line["event"] for line in of_job}
    assert all(line.get("request_id") == "team-req-0001" for line in of_job)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_no_fifty_channel_cap_and_cancel_is_seen_by_every_replica(
    replicas: tuple[list[httpx.Client], Path, list[str]],
) -> None:
    (first, second), _, _ = replicas
    refs = [f"@channel{i}" for i in range(120)]
    started = first.post("/v1/jobs", json={"refs": refs})
    assert started.status_code == 202, started.text
    assert len(started.json()["refs"]) == 120
    cancelled = second.delete(f"/v1/jobs/{started.json()['job_id']}")
    assert cancelled.json()["state"] == "cancelled"
    assert first.get(f"/v1/jobs/{started.json()['job_id']}").json()["state"] == "cancelled"
    assert second.get("/v1/jobs/nope").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"refs": ["@a"], "refresh": "all"},
        {"refresh": "some"},
        {"refs": ["not a channel !!"]},
        {"kind": "report"},
        {"kind": "export", "format": "xls"},
        {"kind": "dance"},
    ],
)
def test_bad_job_requests_are_422(replicas: tuple[list[httpx.Client], Path, list[str]], body: Any) -> None:
    (first, _), _, _ = replicas
    answer = first.post("/v1/jobs", json=body)
    assert answer.status_code == 422, answer.text
    assert first.get("/v1/jobs").json()["total"] == 0
