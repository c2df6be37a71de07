from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from tubescope.domain.frames import (
    CHANNEL_COLUMNS,
    CHANNEL_SNAPSHOT_COLUMNS,
    VIDEO_COLUMNS,
    VIDEO_SNAPSHOT_COLUMNS,
)
from tubescope.errors import ConfigError
from tubescope.warehouse import Warehouse

from .conftest import T0, FixedClock, channel, csnap, video, vsnap

A, B = "UCaaaaaaaaaaaaaaaaaaaaaa", "UCbbbbbbbbbbbbbbbbbbbbbb"
UTC_NS = pd.DatetimeTZDtype("ns", "UTC")


def _fleet(wh: Warehouse, clock: FixedClock, days: int = 3) -> None:
    for day in range(days):
        at = T0 + timedelta(days=day)
        clock.now = at
        run = wh.start_run("youtube", ["@a", "@b"], [])
        wh.upsert_channels(run, [channel(A), channel(B, subscribers=None)])
        wh.record_channel_snapshots(
            run, [csnap(A, at=at, views=1000 + day), csnap(B, at=at, subscribers=None, views=50 + day)]
        )
        wh.upsert_videos(
            run, [video("vid_a_00001", A), video("vid_a_00002", A, tags=()), video("vid_b_00001", B)]
        )
        wh.record_video_snapshots(
            run,
            [
                vsnap("vid_a_00001", 100 * (day + 1), at=at),
                vsnap("vid_a_00002", 10 * (day + 1), at=at, likes=None),
                vsnap("vid_b_00001", 7 * (day + 1), at=at, comments=None),
            ],
        )
        wh.finish_run(run, "completed")


def test_frames_have_the_documented_columns_and_dtypes(wh: Warehouse, clock: FixedClock) -> None:
    _fleet(wh, clock)
    frames = wh.load_frames()
    assert set(frames) == {"channels", "videos", "video_snapshots", "channel_snapshots"}
    for name, columns in [
        ("channels", CHANNEL_COLUMNS),
        ("videos", VIDEO_COLUMNS),
        ("video_snapshots", VIDEO_SNAPSHOT_COLUMNS),
        ("channel_snapshots", CHANNEL_SNAPSHOT_COLUMNS),
    ]:
        assert set(columns) <= set(frames[name].columns), name
    ch, vids, vs, cs = (frames[k] for k in ("channels", "videos", "video_snapshots", "channel_snapshots"))
    for frame, column in [
        (ch, "published_at"),
        (vids, "published_at"),
        (vs, "observed_at"),
        (cs, "observed_at"),
    ]:
        assert frame[column].dtype == UTC_NS, column
    for frame, column in [
        (ch, "subscriber_count"),
        (ch, "view_count"),
        (ch, "video_count"),
        (vids, "view_count"),
        (vids, "like_count"),
        (vids, "comment_count"),
        (vs, "view_count"),
        (vs, "like_count"),
        (vs, "comment_count"),
        (cs, "subscriber_count"),
        (cs, "view_count"),
        (cs, "video_count"),
    ]:
        assert frame[column].dtype == pd.Int64Dtype(), column
    assert vids["duration_seconds"].dtype == "float64"
    assert vids["tag_count"].dtype == "int64"
    assert vids["is_deleted"].dtype == bool
    assert ch["hidden_subscriber_count"].dtype == bool
    assert pd.api.types.is_string_dtype(vids["video_id"]) and pd.api.types.is_string_dtype(vids["tags"])
    assert (len(ch), len(vids), len(vs), len(cs)) == (2, 3, 9, 6)


def test_latest_counts_filters_and_since(wh: Warehouse, clock: FixedClock) -> None:
    _fleet(wh, clock)
    frames = wh.load_frames([A])
    vids = frames["videos"].set_index("video_id")
    assert list(vids.index) == ["vid_a_00001", "vid_a_00002"]
    assert vids["view_count"].tolist() == [300, 30]
    assert vids["like_count"].isna().tolist() == [False, True]
    assert set(frames["video_snapshots"]["channel_id"]) == {A}
    assert frames["channel_snapshots"]["view_count"].tolist() == [1000, 1001, 1002]
    recent = wh.load_frames(None, since=T0 + timedelta(days=1))
    assert recent["video_snapshots"]["observed_at"].min() == T0 + timedelta(days=1)
    assert len(recent["video_snapshots"]) == 6 and len(recent["channel_snapshots"]) == 4
    assert len(recent["videos"]) == 3  # metadata is not time-filtered; counts stay the latest
    hidden = wh.load_frames([B])
    assert hidden["channels"]["subscriber_count"].isna().all()
    assert hidden["video_snapshots"]["comment_count"].isna().all()
    empty = wh.load_frames([])
    assert all(len(f) == 0 for f in empty.values())
    assert empty["video_snapshots"]["observed_at"].dtype == UTC_NS
    assert empty["videos"]["view_count"].dtype == pd.Int64Dtype()
    with pytest.raises(ConfigError):
        wh.load_frames(A)


def test_snapshots_can_be_streamed_in_chunks(wh: Warehouse, clock: FixedClock) -> None:
    _fleet(wh, clock, days=4)
    chunks = list(wh.iter_video_snapshots(batch_rows=5))
    whole = wh.load_frames()["video_snapshots"]
    joined = pd.concat(chunks, ignore_index=True)
    assert len(chunks) >= 2 and all(c["view_count"].dtype == pd.Int64Dtype() for c in chunks)
    pd.testing.assert_frame_equal(joined[list(VIDEO_SNAPSHOT_COLUMNS)], whole[list(VIDEO_SNAPSHOT_COLUMNS)])


def test_fleet_aggregation_runs_in_duckdb(wh: Warehouse, clock: FixedClock) -> None:
    _fleet(wh, clock)
    per_channel = wh.query(
        "SELECT channel_id, sum(view_count) AS views, count(*) AS n FROM video_snapshots"
        " WHERE observed_at >= ? GROUP BY channel_id ORDER BY channel_id",
        [T0 + timedelta(days=2)],
    )
    assert per_channel.values.tolist() == [[A, 330, 2], [B, 21, 1]]


def test_prune_keeps_lineage_and_each_latest_snapshot(wh: Warehouse, clock: FixedClock) -> None:
    _fleet(wh, clock, days=5)
    assert wh.prune_snapshots(None) is None
    with pytest.raises(ConfigError):
        wh.prune_snapshots(0)
    now = T0 + timedelta(days=4, hours=1)
    result = wh.prune_snapshots(2, now=now)
    assert result is not None and result.cutoff == now - timedelta(days=2)
    # Cutoff is T0 + 2 days 1 hour: observations of days 0, 1 and 2 (at T0 + n days) go.
    assert (result.video_snapshots_deleted, result.channel_snapshots_deleted) == (9, 6)
    frames = wh.load_frames()
    assert frames["video_snapshots"]["observed_at"].min() >= result.cutoff
    assert len(wh.run_summaries()) == 5  # lineage kept
    log = wh.query("SELECT older_than_days, video_snapshots_deleted FROM retention_log")
    assert log.values.tolist() == [[2, 9]]
    # A video that stopped being observed keeps its last snapshot through any prune.
    clock.now = now
    run = wh.start_run("youtube", ["@a"], [])
    wh.upsert_videos(run, [video("vid_gone_001", A)])
    wh.record_video_snapshots(run, [vsnap("vid_gone_001", 5, at=now)])
    wh.finish_run(run, "completed")
    later = wh.prune_snapshots(1, now=now + timedelta(days=30))
    assert later is not None
    remaining = wh.query("SELECT video_id, count(*) AS n FROM video_snapshots GROUP BY 1 ORDER BY 1")
    assert remaining["n"].tolist() == [1, 1, 1, 1]
    assert wh.load_frames()["videos"].set_index("video_id").loc["vid_gone_001", "view_count"] == 5
