"""The job queue's records on a real redis-server: validation before anything is queued, cancel,
claims a worker must refuse, expired records, the queue depth, and URLs without passwords."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tubescope.errors import ConfigError, NotFoundError
from tubescope.jobs.queue import (
    JobKind,
    JobSpec,
    JobState,
    RedisJobs,
    collect_spec,
    queue_depth,
    safe_url,
)

PREFIX = "tubescope-test-queue:"


def run(redis_url: str, body: Callable[[RedisJobs], Awaitable[Any]]) -> Any:
    """``body`` with a :class:`RedisJobs` on the test's redis-server, closed afterwards."""

    async def main() -> Any:
        jobs = await RedisJobs.connect(redis_url, PREFIX)
        try:
            return await body(jobs)
        finally:
            await jobs.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (JobSpec(JobKind.WATCH, {"at": "yesterday"}), "needs the tick's time"),
        (JobSpec(JobKind.WATCH, {"at": "2026-05-01T10:00:00"}), "needs a time zone"),
        (JobSpec(JobKind.TRAIN, {"horizon_days": 0}), "horizon_days must be > 0"),
        (JobSpec(JobKind.EXPORT, {"format": "dbase"}), "unknown export format"),
        (JobSpec(JobKind.REPORT, {"channel": "  "}), "needs the channel"),
    ],
    ids=["watch-time", "watch-zone", "train-horizon", "export-format", "report-channel"],
)
def test_a_bad_spec_is_refused_before_anything_is_queued(redis_url: str, spec: JobSpec, reason: str) -> None:
    async def body(jobs: RedisJobs) -> tuple[int, list[dict[str, Any]]]:
        with pytest.raises(ConfigError, match=reason):
            await jobs.submit(spec)
        return await jobs.depth(), await jobs.list()

    assert run(redis_url, body) == (0, [])


def test_good_specs_pass_validation_unchanged() -> None:
    watch = JobSpec(JobKind.WATCH, {"at": "2026-05-01T10:00:00+00:00"})
    assert watch.validated() is watch
    assert JobSpec(JobKind.TRAIN, {"horizon_days": 3}).validated().params == {"horizon_days": 3}
    assert JobSpec.from_json(collect_spec(["@a", "@b"]).to_json()).refs == ("@a", "@b")


def test_cancel_a_queued_job_and_claims_a_worker_must_refuse(redis_url: str) -> None:
    async def body(jobs: RedisJobs) -> None:
        first = await jobs.submit(collect_spec(["@first"]))
        second = await jobs.submit(collect_spec(["@second"]))
        assert await queue_depth(redis_url, PREFIX) == 2 == await jobs.depth()

        cancelled = await jobs.cancel(first["job_id"])
        assert cancelled["state"] == JobState.CANCELLED.value and cancelled["finished_at"]
        assert (await jobs.cancel(first["job_id"]))["state"] == JobState.CANCELLED.value  # idempotent
        assert await jobs.claim(first["job_id"], "w1", max_attempts=3) is None  # final: never runs

        # a running job asked to stop is cancelled by the worker at its next claim or beat
        spec = await jobs.claim(second["job_id"], "w1", max_attempts=3)
        assert spec is not None and spec.refs == ("@second",)
        assert (await jobs.cancel(second["job_id"]))["state"] == JobState.RUNNING.value
        assert await jobs.heartbeat(second["job_id"], 5.0, {"done": 1}) is True
        await jobs.requeue(second["job_id"], {"done": 1})
        assert await jobs.claim(second["job_id"], "w2", max_attempts=3) is None
        assert (await jobs.get(second["job_id"]))["state"] == JobState.CANCELLED.value

        assert await jobs.claim("no-such-job", "w1", max_attempts=3) is None
        with pytest.raises(NotFoundError, match="no job no-such-job"):
            await jobs.cancel("no-such-job")

    run(redis_url, body)


def test_a_job_whose_workers_keep_dying_fails_with_the_reason(redis_url: str) -> None:
    async def body(jobs: RedisJobs) -> dict[str, Any]:
        job = await jobs.submit(collect_spec(["@fragile"]))
        for worker in ("w1", "w2"):  # each claims it, then stops without finishing
            assert await jobs.claim(job["job_id"], worker, max_attempts=2) is not None
            await jobs.requeue(job["job_id"], {"pages": 1})
        assert await jobs.claim(job["job_id"], "w3", max_attempts=2) is None
        return await jobs.get(job["job_id"])

    record = run(redis_url, body)
    assert record["state"] == JobState.FAILED.value and record["attempts"] == 2
    assert "gave up after 2 attempt(s)" in record["error"]


def test_expired_records_drop_out_of_the_list(redis_url: str) -> None:
    async def body(jobs: RedisJobs) -> tuple[list[str], list[str], int]:
        kept = await jobs.submit(collect_spec(["@kept"]))
        gone = await jobs.submit(collect_spec(["@gone"]))
        await jobs.redis.delete(jobs.keys.record(gone["job_id"]))  # what its TTL does
        listed = [j["job_id"] for j in await jobs.list()]
        index = [i.decode() for i in await jobs.redis.zrange(jobs.keys.index, 0, -1)]
        counts = await jobs.counts()
        assert counts[JobState.QUEUED.value] == 1
        assert listed == [kept["job_id"]]
        return listed, index, sum(counts.values())

    listed, index, total = run(redis_url, body)
    assert index == listed and total == 1


def test_urls_in_messages_never_show_the_password() -> None:
    assert safe_url("redis://app:s3cret@cache.internal:6380/2") == "redis://app:***@cache.internal:6380/2"
    assert safe_url("redis://:s3cret@cache.internal/0") == "redis://:***@cache.internal/0"
    assert safe_url("redis://cache.internal:6379/0") == "redis://cache.internal:6379/0"
