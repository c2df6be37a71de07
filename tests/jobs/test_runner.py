"""The job runner: a retried collect job never collects a completed run a second time."""

from __future__ import annotations

from pathlib import Path

from tests.pipeline.helpers import ledger_calls, rows
from tubescope.config import Settings
from tubescope.emulator.world import World
from tubescope.jobs.queue import collect_spec
from tubescope.jobs.runner import JobProgress, execute
from tubescope.testing import running_emulator


def test_a_retry_whose_earlier_attempt_completed_its_run_reports_that_run_and_collects_nothing(
    tmp_path: Path,
) -> None:
    """The worker died after the run completed but before the job's record said so: its retry
    (told the run by the record's last progress) must not start a second run."""
    world = World(seed=31, n_channels=2, videos_per_channel=120)
    db = tmp_path / "wh.duckdb"
    with running_emulator(world) as emu:
        settings = Settings(
            youtube_api_base=emu.base_url, api_keys=emu.keys[:1], db_path=db, requests_per_second=1000
        )
        spec = collect_spec(world.channel_ids())
        first_progress = JobProgress()
        first = execute(spec, settings, first_progress, "job-1")
        assert first.error is None and first.result is not None
        run_id = first_progress.counters["run_id"]
        assert first.result["run_id"] == run_id
        calls = ledger_calls(emu)

        retry_progress = JobProgress(earlier_run_id=run_id)
        retry = execute(spec, settings, retry_progress, "job-1")
        assert ledger_calls(emu) == calls  # not one request
    assert retry.error is None and retry.result is not None
    assert retry_progress.counters["run_id"] == run_id
    same = {k: first.result[k] for k in ("run_id", "status", "quota_used", "videos_new", "snapshots")}
    assert {k: retry.result[k] for k in same} == same
    assert sorted(retry.result["channels"]) == sorted(first.result["channels"])
    assert rows(db, "SELECT count(*) FROM collection_runs") == [(1,)]
    assert rows(db, "SELECT count(*) FROM video_snapshots GROUP BY video_id HAVING count(*) > 1") == []


def test_a_retry_whose_earlier_run_has_work_left_resumes_it(tmp_path: Path) -> None:
    world = World(seed=32, n_channels=1, videos_per_channel=120)
    db = tmp_path / "wh.duckdb"
    with running_emulator(world) as emu:
        settings = Settings(
            youtube_api_base=emu.base_url, api_keys=emu.keys[:1], db_path=db, requests_per_second=1000
        )
        spec = collect_spec(world.channel_ids())
        stopped = JobProgress()
        stopped.stop("the worker is shutting down")  # stops at the first checkpoint
        first = execute(spec, settings, stopped, "job-2")
        assert first.stopped
        retry = execute(spec, settings, JobProgress(earlier_run_id=stopped.counters["run_id"]), "job-2")
    assert retry.error is None and retry.result is not None
    assert retry.result["resumed"] is True and retry.result["run_id"] == stopped.counters["run_id"]
    assert rows(db, "SELECT status, attempts FROM collection_runs") == [("completed", 2)]
