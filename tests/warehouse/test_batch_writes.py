"""The collector's hot write path: multi-channel checkpoints, skipped lookups, run checks per transaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouse.conftest import FINGERPRINT, FixedClock, channel, video, vsnap
from tubescope.errors import StorageError
from tubescope.warehouse import Warehouse

CH = "UCaaaaaaaaaaaaaaaaaaaaaa"
OTHER = "UCbbbbbbbbbbbbbbbbbbbbbb"


def _run(wh: Warehouse) -> int:
    run = wh.start_run("youtube", ["@aaaa", "@bbbb"], [FINGERPRINT])
    wh.upsert_channels(run, [channel(CH), channel(OTHER)])
    return run


def test_record_checkpoints_moves_some_channels_keeps_others_and_accumulates_done_ids(wh: Warehouse) -> None:
    run = _run(wh)
    wh.save_checkpoint(run, CH, page_token="tok-1", pages_done=1, done_video_ids=["a", "b"])

    wh.record_checkpoints(run, {CH: None, OTHER: ("tok-9", 9)}, {CH: ["b", "c", "c"], OTHER: ["x"]})

    kept = wh.load_checkpoint(run, CH)
    moved = wh.load_checkpoint(run, OTHER)
    assert kept is not None and moved is not None
    assert (kept.page_token, kept.pages_done, kept.done_video_ids) == ("tok-1", 1, {"a", "b", "c"})
    assert (moved.page_token, moved.pages_done, moved.done_video_ids) == ("tok-9", 9, {"x"})
    done_rows = wh.fetchone("SELECT count(*) FROM checkpoint_videos_done")
    assert done_rows == (4,)  # no id stored twice

    wh.record_checkpoints(run, {"UCcccccccccccccccccccccc": None}, {})
    fresh = wh.load_checkpoint(run, "UCcccccccccccccccccccccc")
    assert fresh is not None and (fresh.page_token, fresh.pages_done, fresh.channel_done) == (None, 0, False)


def test_a_run_finished_inside_a_transaction_refuses_later_writes_in_it(wh: Warehouse) -> None:
    run = _run(wh)
    with pytest.raises(StorageError, match="completed"), wh.transaction():
        wh.upsert_videos(run, [video("vid00000000")])  # checks the run: writable
        wh.finish_run(run, "completed")
        wh.record_video_snapshots(run, [vsnap("vid00000000", 10)])
    # the whole transaction rolled back (the finish too): the run is running and writable again
    assert wh.known_video_ids(CH) == frozenset()
    assert wh.get_run(run).status.value == "running"
    assert wh.upsert_videos(run, [video("vid00000000")]).inserted == 1
    wh.finish_run(run, "completed")
    with pytest.raises(StorageError, match="completed"):
        wh.upsert_videos(run, [video("vid00000001")])


def test_snapshots_of_videos_not_upserted_alongside_are_still_quarantined(wh: Warehouse) -> None:
    run = _run(wh)
    with wh.transaction():
        wh.upsert_videos(run, [video("vid00000000")])
        result = wh.record_video_snapshots(
            run,
            [vsnap("vid00000000", 10), vsnap("vid_unknown", 5)],
            stored_video_ids={"vid00000000"},
        )
    assert (result.inserted, result.quarantined) == (1, 1)
    assert [q.entity_id for q in wh.quarantined(run)] == ["vid_unknown"]
    latest = wh.latest_video_snapshots(["vid00000000"])
    assert latest["vid00000000"].view_count == 10


def test_mixed_new_and_known_videos_in_one_batch_upsert_and_count_right(wh: Warehouse) -> None:
    run = _run(wh)
    wh.upsert_videos(run, [video("vid00000000")])
    renamed = video("vid00000000", tags=("new",))
    result = wh.upsert_videos(run, [renamed, video("vid00000001")])
    assert (result.inserted, result.updated) == (1, 1)
    tags = wh.fetchone("SELECT tags FROM videos WHERE video_id = 'vid00000000'")
    assert tags == (["new"],)


def test_open_with_one_thread(db_path: Path, clock: FixedClock) -> None:
    with Warehouse.open(db_path, clock=clock, threads=1) as wh:
        assert wh.connection().execute("SELECT current_setting('threads')").fetchone() == (1,)
