from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tubescope.domain.models import Comment, Video, VideoFormat
from tubescope.errors import ConfigError, DataQualityError, NotFoundError, RunTakenOver, StorageError
from tubescope.warehouse import RunStatus, Warehouse

from .conftest import FINGERPRINT, T0, FixedClock, channel, csnap, video, vsnap

CH = "UCaaaaaaaaaaaaaaaaaaaaaa"


def _seed(wh: Warehouse, n: int = 3) -> int:
    run = wh.start_run("youtube", ["@aaaa"], [FINGERPRINT])
    wh.upsert_channel(run, channel(CH))
    wh.upsert_videos(run, [video(f"vid{i:08d}") for i in range(n)])
    return run


# -- lineage ----------------------------------------------------------------------------------------


def test_a_run_records_lineage_and_accumulates_quota_across_attempts(
    wh: Warehouse, clock: FixedClock
) -> None:
    run = wh.start_run("youtube", ["@b", " @a ", "@b"], [FINGERPRINT])
    summary = wh.get_run(run)
    assert summary.status is RunStatus.RUNNING
    assert summary.channel_refs == ("@a", "@b")
    assert summary.started_at == T0
    clock.advance(minutes=5)
    stopped = wh.finish_run(run, "quota_stopped", counters={"videos": 10}, quota_spent={FINGERPRINT: 9000})
    assert stopped.status is RunStatus.QUOTA_STOPPED and stopped.finished_at == T0 + timedelta(minutes=5)
    # The next attempt over the same refs (any order) finds and resumes it, under the same run_id.
    found = wh.find_resumable_run("youtube", ["@a", "@b"])
    assert found is not None and found.run_id == run
    assert wh.find_resumable_run("youtube", ["@a"]) is None
    assert wh.find_resumable_run("csv", ["@a", "@b"]) is None
    other_key = "key-abcdef0123"
    resumed = wh.resume_run(run, key_fingerprints=[other_key])
    assert resumed.status is RunStatus.RUNNING and resumed.attempts == 2
    done = wh.finish_run(run, RunStatus.COMPLETED, counters={"videos": 5}, quota_spent={other_key: 700})
    assert done.quota_spent == {FINGERPRINT: 9000, other_key: 700}
    assert done.total_quota_spent == 9700
    assert done.counters == {"videos": 15}
    assert set(done.key_fingerprints) == {FINGERPRINT, other_key}
    assert wh.find_resumable_run("youtube", ["@a", "@b"]) is None
    with pytest.raises(StorageError, match="only unfinished runs"):
        wh.resume_run(run)
    assert [r.run_id for r in wh.run_summaries()] == [run]


def test_an_attempt_superseded_by_a_resume_elsewhere_can_neither_write_nor_close_the_run(
    postgres_url: str, clock: FixedClock
) -> None:
    """Two processes on one PostgreSQL warehouse: the one whose job lease lapsed (``stale``) and
    the one that took the job over and resumed the run (``fresh``). The resume waits for the
    stale attempt's open write, and every later write of the stale attempt is refused."""
    with (
        Warehouse.open(postgres_url, clock=clock) as stale,
        Warehouse.open(postgres_url, clock=clock) as fresh,
    ):
        run = stale.start_run("youtube", ["@aaaa"], [FINGERPRINT])
        stale.upsert_channel(run, channel(CH))
        resumed: list[int] = []
        with stale.transaction():
            stale.upsert_videos(run, [video("vid00000001")])
            resumer = threading.Thread(target=lambda: resumed.append(fresh.resume_run(run).attempts))
            resumer.start()
            resumer.join(timeout=0.5)
            assert resumer.is_alive(), "the resume did not wait for the write in flight"
        resumer.join(timeout=30)
        assert resumed == [2]
        assert fresh.get_run(run).status is RunStatus.RUNNING
        with pytest.raises(RunTakenOver, match=r"run \d+ was resumed elsewhere \(attempt 2"):
            stale.upsert_videos(run, [video("vid00000002")])
        with pytest.raises(RunTakenOver):
            stale.finish_run(run, RunStatus.INTERRUPTED, counters={"videos": 1})
        fresh.upsert_videos(run, [video("vid00000002")])
        done = fresh.finish_run(run, RunStatus.COMPLETED, counters={"videos": 1})
    assert (done.status, done.attempts, done.counters) == (RunStatus.COMPLETED, 2, {"videos": 1})
    assert isinstance(RunTakenOver("x"), StorageError)


def test_the_process_that_resumes_a_run_keeps_writing_to_it(wh: Warehouse) -> None:
    """The fence is the attempt, not the process: resuming in the same process moves it along."""
    run = _seed(wh)
    wh.finish_run(run, RunStatus.INTERRUPTED)
    assert wh.resume_run(run).attempts == 2
    wh.upsert_videos(run, [video("vid00000009")])
    assert wh.finish_run(run, RunStatus.COMPLETED).status is RunStatus.COMPLETED


def test_raw_keys_never_reach_the_database(wh: Warehouse, db_path: Path) -> None:
    raw_key = "AIzaSyD-this-is-a-fake-but-key-shaped-value1"
    with pytest.raises(ConfigError, match="fingerprints"):
        wh.start_run("youtube", ["@a"], [raw_key])
    run = wh.start_run("youtube", ["@a"], [FINGERPRINT])
    with pytest.raises(ConfigError):
        wh.finish_run(run, "failed", quota_spent={raw_key: 1})
    failed = wh.finish_run(
        run, "failed", error=f"GET https://x/videos?part=id&key={raw_key} failed ({raw_key})"
    )
    assert failed.error is not None and raw_key not in failed.error and "[redacted]" in failed.error
    dump = wh.query("SELECT * FROM collection_runs").to_csv()
    assert raw_key not in dump
    backend = wh.backend
    wh.close()
    if backend != "duckdb":
        return
    assert raw_key.encode() not in db_path.read_bytes()
    wal = db_path.with_name(db_path.name + ".wal")
    assert not wal.exists() or raw_key.encode() not in wal.read_bytes()


def test_writes_need_a_running_run(wh: Warehouse) -> None:
    with pytest.raises(StorageError, match="no collection run 99"):
        wh.upsert_channel(99, channel())
    run = wh.start_run("youtube", ["@a"], [])
    wh.finish_run(run, "completed")
    with pytest.raises(StorageError, match="resume_run"):
        wh.record_video_snapshots(run, [vsnap("x", 1)])
    with pytest.raises(NotFoundError):
        wh.get_run(12345)
    with pytest.raises(ConfigError):
        wh.finish_run(run, "nearly-done")


# -- idempotent writes ------------------------------------------------------------------------------


def test_snapshots_are_idempotent_per_video_and_run(wh: Warehouse, clock: FixedClock) -> None:
    run = _seed(wh)
    batch = [vsnap(f"vid{i:08d}", 100 * (i + 1)) for i in range(3)]
    assert wh.record_video_snapshots(run, batch).inserted == 3
    # A retried batch, even with re-fetched numbers, inserts nothing twice.
    retry = [vsnap(f"vid{i:08d}", 999, at=T0 + timedelta(minutes=1)) for i in range(3)]
    result = wh.record_video_snapshots(run, retry)
    assert (result.inserted, result.skipped) == (0, 3)
    assert wh.record_channel_snapshot(run, csnap()).inserted == 1
    assert wh.record_channel_snapshot(run, csnap()).skipped == 1
    counts = wh.query("SELECT video_id, count(*) AS n, max(view_count) AS v FROM video_snapshots GROUP BY 1")
    assert counts["n"].tolist() == [1, 1, 1] and sorted(counts["v"].tolist()) == [100, 200, 300]
    wh.finish_run(run, "completed")
    # The next run adds one more snapshot per video.
    clock.advance(days=1)
    run2 = wh.start_run("youtube", ["@aaaa"], [])
    later = [vsnap(f"vid{i:08d}", 150 * (i + 1), at=T0 + timedelta(days=1)) for i in range(3)]
    assert wh.record_video_snapshots(run2, later).inserted == 3
    frames = wh.load_frames()
    assert len(frames["video_snapshots"]) == 6
    assert frames["videos"].set_index("video_id")["view_count"].to_dict() == {
        "vid00000000": 150,
        "vid00000001": 300,
        "vid00000002": 450,
    }


def test_hidden_counts_are_null_with_a_flag_never_zero(wh: Warehouse) -> None:
    run = wh.start_run("youtube", ["@a"], [])
    wh.upsert_channel(run, channel(CH, subscribers=None))
    wh.upsert_videos(run, [video("vid_hidden1"), video("vid_zero001")])
    wh.record_video_snapshots(
        run,
        [vsnap("vid_hidden1", 50, likes=None, comments=None), vsnap("vid_zero001", 50, likes=0, comments=0)],
    )
    wh.record_channel_snapshot(run, csnap(CH, subscribers=None))
    raw = wh.query(
        "SELECT video_id, like_count, likes_hidden, comment_count, comments_hidden"
        " FROM video_snapshots ORDER BY 1"
    )
    hidden, zero = raw.iloc[0], raw.iloc[1]
    assert (
        hidden["like_count"] is pd_na() and bool(hidden["likes_hidden"]) and bool(hidden["comments_hidden"])
    )
    assert zero["like_count"] == 0 and not bool(zero["likes_hidden"])
    subs = wh.query("SELECT subscriber_count, subscribers_hidden FROM channel_snapshots")
    assert subs["subscriber_count"].isna().all() and subs["subscribers_hidden"].all()
    frames = wh.load_frames()
    assert frames["channels"]["subscriber_count"].isna().all()
    assert frames["channels"]["hidden_subscriber_count"].tolist() == [True]
    likes = frames["videos"].set_index("video_id")["like_count"]
    assert likes.isna().to_dict() == {"vid_hidden1": True, "vid_zero001": False}
    with pytest.raises(DataQualityError, match="must be None"):
        bad = channel(CH, subscribers=None)
        wh.upsert_channel(run, type(bad)(**{**_fields(bad), "subscriber_count": 0}))


def pd_na() -> object:
    import pandas as pd

    return pd.NA


def _fields(obj: object) -> dict[str, object]:
    import dataclasses

    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]


def test_a_failing_batch_lands_not_at_all(wh: Warehouse) -> None:
    run = _seed(wh, n=2)
    broken = Video(**{**_fields(video("vid_broken1")), "title": None})  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="rolled back"), wh.transaction():
        wh.record_video_snapshots(run, [vsnap("vid00000000", 5), vsnap("vid00000001", 6)])
        wh.save_checkpoint(run, CH, page_token="page-2", done_video_ids=["vid00000000"])
        wh.upsert_videos(run, [video("vid_fine001"), broken])
    assert wh.table_counts()["video_snapshots"] == 0
    assert wh.load_checkpoint(run, CH) is None
    assert "vid_fine001" not in wh.known_video_ids(CH)
    # The same batch, fixed, then lands whole.
    with wh.transaction():
        wh.record_video_snapshots(run, [vsnap("vid00000000", 5), vsnap("vid00000001", 6)])
        wh.save_checkpoint(run, CH, page_token="page-2", done_video_ids=["vid00000000"])
    assert wh.table_counts()["video_snapshots"] == 2


def test_an_exception_in_caller_code_rolls_back_the_transaction(wh: Warehouse) -> None:
    run = _seed(wh, n=1)
    with pytest.raises(RuntimeError), wh.transaction():
        wh.record_video_snapshots(run, [vsnap("vid00000000", 5)])
        raise RuntimeError("network died mid-batch")
    assert wh.table_counts()["video_snapshots"] == 0


def test_naive_timestamps_are_refused(wh: Warehouse) -> None:
    run = _seed(wh, n=1)
    with pytest.raises(DataQualityError, match="time zone"):
        wh.record_video_snapshots(run, [vsnap("vid00000000", 5, at=datetime(2026, 1, 1))])


# -- quarantine, tombstones, comments ---------------------------------------------------------------


def test_unplaceable_rows_are_quarantined_once_not_dropped(wh: Warehouse) -> None:
    run = _seed(wh, n=1)
    batch = [vsnap("vid00000000", 5), vsnap("vid_unknown", 7), vsnap("vid00000000", 6)]
    first = wh.record_video_snapshots(run, batch)
    assert (first.inserted, first.quarantined) == (1, 2)
    again = wh.record_video_snapshots(run, batch)
    assert (again.inserted, again.quarantined) == (0, 0)
    records = wh.quarantined(run)
    assert len(records) == 2
    unknown = next(r for r in records if r.entity_id == "vid_unknown")
    assert unknown.payload["view_count"] == 7 and unknown.reason.startswith("unknown_video")
    qid = wh.quarantine(
        run, "video", "raw1", {"id": "raw1", "statistics": {"viewCount": "-3"}}, "negative_count"
    )
    assert (
        wh.quarantine(
            run, "video", "raw1", {"id": "raw1", "statistics": {"viewCount": "-3"}}, "negative_count"
        )
        == qid
    )
    assert wh.quarantined(run)[-1].payload == {"id": "raw1", "statistics": {"viewCount": "-3"}}
    assert wh.quarantine(run, "video", "raw2", "not json at all", "unparseable") > qid
    assert wh.quarantined(run)[-1].payload == {"raw": "not json at all"}


def test_deleted_videos_keep_their_history_and_can_come_back(wh: Warehouse, clock: FixedClock) -> None:
    run = _seed(wh, n=2)
    wh.record_video_snapshots(run, [vsnap("vid00000000", 100), vsnap("vid00000001", 200)])
    gone_at = T0 + timedelta(hours=1)
    result = wh.mark_deleted(run, ["vid00000000", "vid_never"], gone_at, "private")
    assert (result.updated, result.quarantined) == (1, 1)
    assert wh.mark_deleted(run, ["vid00000000"], gone_at + timedelta(hours=1), "deleted").skipped == 1
    frames = wh.load_frames()
    videos = frames["videos"].set_index("video_id")
    assert bool(videos.loc["vid00000000", "is_deleted"]) and not bool(videos.loc["vid00000001", "is_deleted"])
    assert videos.loc["vid00000000", "deleted_at"] == gone_at
    assert videos.loc["vid00000000", "view_count"] == 100  # history kept
    assert len(frames["video_snapshots"]) == 2
    assert wh.known_video_ids(CH, include_deleted=False) == {"vid00000001"}
    assert wh.known_video_ids(CH) == {"vid00000000", "vid00000001"}
    wh.finish_run(run, "completed")
    clock.advance(days=1)
    run2 = wh.start_run("youtube", ["@aaaa"], [])
    wh.upsert_videos(run2, [video("vid00000000")])
    assert not wh.load_frames()["videos"].set_index("video_id").loc["vid00000000", "is_deleted"]
    events = wh.query("SELECT event, run_id FROM video_status_events ORDER BY event_at, event")
    assert events["event"].tolist() == ["deleted", "restored"]
    assert events["run_id"].tolist() == [run, run2]


def test_comments_are_idempotent_by_id_and_refresh_counts(wh: Warehouse) -> None:
    run = _seed(wh, n=1)
    top = Comment("c1", "vid00000000", None, "ann", "great", 3, T0, reply_count=1)
    reply = Comment("c1.r1", "vid00000000", "c1", "bob", "agreed", 0, T0 + timedelta(minutes=1))
    orphan = Comment("c9", "vid_gone", None, "eve", "?", 0, T0)
    first = wh.add_comments(run, [top, reply, orphan])
    assert (first.inserted, first.quarantined) == (2, 1)
    again = wh.add_comments(run, [Comment("c1", "vid00000000", None, "ann", "great (edited)", 8, T0)])
    assert (again.inserted, again.updated) == (0, 1)
    stored = wh.query("SELECT comment_id, text, like_count FROM comments ORDER BY comment_id")
    assert stored.values.tolist() == [["c1", "great (edited)", 8], ["c1.r1", "agreed", 0]]


# -- checkpoints and incremental state --------------------------------------------------------------


def test_checkpoints_accumulate_done_videos_per_run_and_channel(wh: Warehouse, clock: FixedClock) -> None:
    run = _seed(wh, n=0)
    assert wh.load_checkpoint(run, CH) is None
    wh.save_checkpoint(run, CH, page_token="tok-1", pages_done=1, done_video_ids=["a", "b"])
    clock.advance(seconds=30)
    cp = wh.save_checkpoint(run, CH, page_token="tok-2", pages_done=2, done_video_ids=["b", "c"])
    assert cp.page_token == "tok-2" and cp.pages_done == 2 and not cp.channel_done
    assert cp.done_video_ids == {"a", "b", "c"} and cp.updated_at == clock.now
    done = wh.save_checkpoint(run, CH, page_token=None, channel_done=True)
    assert done.channel_done and done.pages_done == 2 and done.page_token is None
    assert set(wh.run_checkpoints(run)) == {CH}
    other = wh.start_run("youtube", ["@other"], [])
    assert wh.load_checkpoint(other, CH) is None


def test_recording_a_checkpoint_without_reading_it_back_keeps_its_page_count(wh: Warehouse) -> None:
    run = _seed(wh, n=0)
    # A channel that finishes before any page moved its checkpoint starts one at 0 pages.
    wh.record_checkpoint(run, "UCnew", page_token=None, channel_done=True)
    fresh = wh.load_checkpoint(run, "UCnew")
    assert fresh is not None and fresh.channel_done and fresh.pages_done == 0
    wh.record_checkpoint(run, CH, page_token="tok-3", pages_done=3, done_video_ids=["a"])
    wh.record_checkpoint(run, CH, page_token=None, channel_done=True, done_video_ids=["b"])
    done = wh.load_checkpoint(run, CH)
    assert done is not None and done.channel_done and done.page_token is None
    assert done.pages_done == 3 and done.done_video_ids == {"a", "b"}


def test_incremental_state_never_moves_backwards(wh: Warehouse, clock: FixedClock) -> None:
    run = _seed(wh, n=0)
    assert wh.incremental_state(CH) is None
    new = datetime(2026, 2, 20, tzinfo=UTC)
    state = wh.update_incremental_state(
        run, CH, newest_video_id="v_new", newest_published_at=new, full_crawl=True
    )
    assert state.last_full_crawl_at == T0 and state.last_full_crawl_run_id == run
    clock.advance(days=1)
    older = wh.update_incremental_state(
        run, CH, newest_video_id="v_old", newest_published_at=new - timedelta(days=3)
    )
    assert (older.newest_video_id, older.newest_published_at) == ("v_new", new)
    assert older.last_full_crawl_at == T0 and older.updated_at == clock.now
    newer = wh.update_incremental_state(
        run, CH, newest_video_id="v_newer", newest_published_at=new + timedelta(days=1)
    )
    assert newer.newest_video_id == "v_newer"


def test_read_only_warehouse_refuses_writes(db_path: Path) -> None:
    with Warehouse.open(db_path) as wh:
        _seed(wh, n=1)
    with Warehouse.open(db_path, read_only=True) as ro:
        assert ro.known_video_ids(CH) == {"vid00000000"}
        with pytest.raises(StorageError):
            ro.start_run("youtube", ["@a"], [])


def test_a_closed_warehouse_says_so(db_path: Path) -> None:
    wh = Warehouse.open(db_path)
    wh.close()
    wh.close()
    with pytest.raises(StorageError, match="closed"):
        wh.known_video_ids(CH)


def test_video_format_and_tags_round_trip(wh: Warehouse) -> None:
    run = wh.start_run("youtube", ["@a"], [])
    wh.upsert_videos(
        run,
        [
            video("vid_short01", video_format=VideoFormat.SHORT, duration=30, tags=()),
            video("vid_live001", video_format=VideoFormat.LIVE, duration=None, tags=("live", "q&a", "ünï")),
        ],
    )
    videos = wh.load_frames()["videos"].set_index("video_id")
    assert videos.loc["vid_short01", "tags"] == "" and videos.loc["vid_short01", "tag_count"] == 0
    assert videos.loc["vid_live001", "tags"] == "live|q&a|ünï" and videos.loc["vid_live001", "tag_count"] == 3
    assert videos.loc["vid_short01", "video_format"] == "short"
    assert pd_isna(videos.loc["vid_live001", "duration_seconds"])


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


# -- schema v7: incomplete runs, unknown channel counts, live details --------------------------------


def test_an_incomplete_run_is_stored_as_such_and_resumes(wh: Warehouse) -> None:
    run = wh.start_run("youtube", ["@a"], [FINGERPRINT])
    ended = wh.finish_run(run, RunStatus.INCOMPLETE, error="incomplete: 50 video(s) of 1 channel(s)")
    assert ended.status is RunStatus.INCOMPLETE
    raw = wh.query("SELECT status, error FROM collection_runs")
    assert raw["status"].tolist() == ["incomplete"]
    assert raw["error"].tolist() == ["incomplete: 50 video(s) of 1 channel(s)"]
    found = wh.find_resumable_run("youtube", ["@a"])
    assert found is not None and found.run_id == run
    assert wh.resume_run(run).status is RunStatus.RUNNING


def test_unknown_channel_counts_are_stored_as_null_never_zero(wh: Warehouse) -> None:
    import dataclasses

    run = wh.start_run("youtube", ["@a"], [])
    unknown = dataclasses.replace(channel(CH), view_count=None, video_count=None)
    wh.upsert_channel(run, unknown)
    wh.record_channel_snapshot(run, dataclasses.replace(csnap(CH), view_count=None, video_count=None))
    for sql in (
        "SELECT view_count, video_count FROM channels",
        "SELECT view_count, video_count FROM channel_snapshots",
    ):
        counts = wh.query(sql)
        assert len(counts) == 1 and counts.isna().all().all(), sql
    frames = wh.load_frames()
    assert frames["channels"]["view_count"].isna().all()
    assert frames["channel_snapshots"]["view_count"].isna().all()


def test_live_details_are_stored_and_refreshed(wh: Warehouse) -> None:
    import dataclasses

    import pandas as pd

    from tubescope.domain.models import LiveDetails

    run = _seed(wh, n=1)
    start = datetime(2026, 2, 1, 18, tzinfo=UTC)
    on_air = LiveDetails(scheduled_start_at=start, actual_start_at=start, concurrent_viewers=321)
    broadcast = dataclasses.replace(video("vid_live_01"), video_format=VideoFormat.LIVE, live=on_air)
    wh.upsert_videos(run, [broadcast, video("vid_plain01")])
    sql = (
        "SELECT video_id, live_scheduled_start_at, live_actual_start_at, live_actual_end_at,"
        " live_concurrent_viewers FROM videos WHERE video_id IN ('vid_live_01', 'vid_plain01')"
        " ORDER BY video_id"
    )
    live, plain = (row for _, row in wh.query(sql).iterrows())
    assert live["live_actual_start_at"] == start and live["live_concurrent_viewers"] == 321
    assert pd.isna(live["live_actual_end_at"])  # not ended yet: NULL
    assert plain.drop("video_id").isna().all()
    ended = dataclasses.replace(on_air, actual_end_at=start + timedelta(hours=2), concurrent_viewers=None)
    wh.upsert_videos(run, [dataclasses.replace(broadcast, live=ended)])
    live = wh.query(sql).iloc[0]
    assert live["live_actual_end_at"] == start + timedelta(hours=2)
    assert pd.isna(live["live_concurrent_viewers"])  # not sent once it ended: NULL, never 0


def test_empty_batches_and_bad_calls_touch_nothing(wh: Warehouse) -> None:
    with pytest.raises(ConfigError, match="a run needs a source name"):
        wh.start_run("  ", ["@a"], [])
    run = wh.start_run("youtube", ["@a"], [])
    with pytest.raises(ConfigError, match="finish_run needs a final status, not 'running'"):
        wh.finish_run(run, "running")
    at = T0
    assert (
        wh.upsert_channels(run, [])
        == wh.record_channel_snapshots(run, [])
        == wh.mark_deleted(run, [], at, "x")
    )
    assert wh.upsert_channels(run, []).inserted == 0
    assert wh.latest_video_snapshots([]) == {} and wh.latest_channel_snapshots([]) == {}
    assert wh.target == wh.path
    with pytest.raises(StorageError, match="query failed") as caught:
        wh.query_arrow("SELECT * FROM no_such_table WHERE password = 'hunter2'")
    assert "Traceback" not in str(caught.value)
    assert wh.get_run(run).status is RunStatus.RUNNING  # nothing above ended or changed the run


def test_channels_and_their_snapshots_keep_a_fetch_time_each(wh: Warehouse) -> None:
    run = wh.start_run("youtube", ["@a", "@b"], [])
    first, second = "UCaaaaaaaaaaaaaaaaaaaaaa", "UCbbbbbbbbbbbbbbbbbbbbbb"
    times = [T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    wh.upsert_channels(run, [channel(first), channel(second)], fetched_at=times)
    wh.record_channel_snapshots(run, [csnap(first), csnap(second)], fetched_at=times)
    for table in ("channels", "channel_snapshots"):
        stored = wh.fetchall(f"SELECT channel_id, fetched_at FROM {table} ORDER BY channel_id")  # noqa: S608
        assert [(cid, at.astimezone(UTC)) for cid, at in stored] == [(first, times[0]), (second, times[1])]
    with pytest.raises(ValueError, match="1 fetch times for 2 rows"):
        wh.upsert_channels(run, [channel(first), channel(second)], fetched_at=times[:1])
