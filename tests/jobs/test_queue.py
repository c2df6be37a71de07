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
    Lease,
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
        claim = await jobs.claim(second["job_id"], "w1", max_attempts=3)
        assert claim is not None and claim.spec.refs == ("@second",) and claim.holder == "w1#1"
        assert await jobs.heartbeat(second["job_id"], claim.holder, 5.0, {"done": 1}) is Lease.HELD
        assert (await jobs.cancel(second["job_id"]))["state"] == JobState.RUNNING.value
        assert await jobs.heartbeat(second["job_id"], claim.holder, 5.0, {"done": 1}) is Lease.CANCEL_ASKED
        assert await jobs.requeue(second["job_id"], {"done": 1}, holder=claim.holder)
        assert await jobs.claim(second["job_id"], "w2", max_attempts=3) is None
        assert (await jobs.get(second["job_id"]))["state"] == JobState.CANCELLED.value

        assert await jobs.claim("no-such-job", "w1", max_attempts=3) is None
        with pytest.raises(NotFoundError, match="no job no-such-job"):
            await jobs.cancel("no-such-job")

    run(redis_url, body)


def test_a_superseded_attempt_can_neither_renew_nor_record_the_job(redis_url: str) -> None:
    """A worker stalled past its lease, whose job another worker claimed: its heartbeat says so,
    and its end of the job (done, failed or requeued) lands nowhere but the shared quota count."""

    async def body(jobs: RedisJobs) -> None:
        job_id = (await jobs.submit(collect_spec(["@contested"])))["job_id"]
        stale = await jobs.claim(job_id, "w1", max_attempts=5)
        fresh = await jobs.claim(job_id, "w2", max_attempts=5)
        assert stale is not None and fresh is not None and (stale.holder, fresh.holder) == ("w1#1", "w2#2")
        before = await jobs.quota_units_spent()
        assert await jobs.heartbeat(job_id, stale.holder, 5.0, {"pages": 9}, quota_units=3) is Lease.LOST
        assert await jobs.heartbeat(job_id, fresh.holder, 5.0, {"pages": 1}, quota_units=2) is Lease.HELD
        assert not await jobs.finish(
            job_id, JobState.FAILED, None, "stale", {"pages": 9}, 4, holder=stale.holder
        )
        assert not await jobs.requeue(job_id, {"pages": 9}, 1, holder=stale.holder)
        record = await jobs.get(job_id)
        assert (record["state"], record["worker"], record["progress"]) == ("running", "w2", {"pages": 1})
        assert await jobs.quota_units_spent() == before + 3 + 2 + 4 + 1  # spent, whoever recorded it
        assert await jobs.finish(job_id, JobState.COMPLETED, {"ok": True}, None, holder=fresh.holder)
        assert (await jobs.get(job_id))["state"] == JobState.COMPLETED.value

    run(redis_url, body)


def test_a_claim_after_a_lost_attempt_names_the_run_that_attempt_opened(redis_url: str) -> None:
    async def body(jobs: RedisJobs) -> tuple[int | None, int | None]:
        job_id = (await jobs.submit(collect_spec(["@resumed"])))["job_id"]
        first = await jobs.claim(job_id, "w1", max_attempts=5)
        assert first is not None and first.earlier_run_id is None
        assert (
            await jobs.heartbeat(job_id, first.holder, 5.0, {"run_id": 7, "videos_stored": 50}) is Lease.HELD
        )
        second = await jobs.claim(job_id, "w2", max_attempts=5)  # w1 died: its lease lapsed
        assert second is not None
        return first.earlier_run_id, second.earlier_run_id

    assert run(redis_url, body) == (None, 7)


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
