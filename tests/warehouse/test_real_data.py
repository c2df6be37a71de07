"""Real YouTube statistics (yt-channel-tracker-2026) through the warehouse and its quality checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tubescope.domain.durations import parse_duration_seconds
from tubescope.domain.models import ChannelSnapshot, Video, VideoFormat, VideoSnapshot, classify_format
from tubescope.warehouse import Rule, Severity, Warehouse
from tubescope.warehouse.quality import check_channel_snapshots

from .conftest import REAL_DATA, FixedClock

TRACKER = REAL_DATA / "yt-channel-tracker-2026"

pytestmark = pytest.mark.skipif(
    not (TRACKER / "youtube_daily_snapshots.csv").is_file(),
    reason=f"real data not found at {TRACKER} (shared/data/real is not part of the repository)",
)


def _daily() -> pd.DataFrame:
    return pd.read_csv(TRACKER / "youtube_daily_snapshots.csv", encoding="utf-8-sig")


def _monthly(month: str) -> pd.DataFrame:
    return pd.read_csv(
        TRACKER / f"videos_2026-{month}.csv",
        encoding="utf-8-sig",
        dtype={"category_id": str, "video_id": str},
    )


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_daily_channel_statistics_load_exactly_and_decreases_are_flagged(tmp_path: Path) -> None:
    daily = _daily()
    clock = FixedClock()
    warnings = 0
    with Warehouse.open(tmp_path / "real.duckdb", clock=clock) as wh:
        for day, rows in daily.groupby("date_utc", sort=True):
            at = datetime.fromisoformat(f"{day}T06:00:00+00:00")
            clock.now = at
            run = wh.start_run("csv:yt-channel-tracker", ["fleet"], [])
            snaps = [
                ChannelSnapshot(r.channel_id, at, int(r.subscribers), int(r.views), int(r.videos))
                for r in rows.itertuples()
            ]
            report = check_channel_snapshots(
                snaps, previous=wh.latest_channel_snapshots([s.channel_id for s in snaps]), now=at
            )
            assert report.ok and len(report.accepted) == len(snaps)
            warnings += sum(1 for i in report.issues if i.rule is Rule.CHANNEL_TOTAL_DECREASED)
            assert all(i.severity is Severity.WARN for i in report.issues)
            assert wh.record_channel_snapshots(run, report.accepted).inserted == len(snaps)
            wh.finish_run(run, "completed")
        stored = wh.load_frames()["channel_snapshots"]

    assert len(stored) == len(daily) == 4628
    merged = stored.assign(date_utc=stored["observed_at"].dt.strftime("%Y-%m-%d")).merge(
        daily, on=["date_utc", "channel_id"], validate="one_to_one"
    )
    assert len(merged) == len(daily)
    assert (merged["subscriber_count"] == merged["subscribers"]).all()
    assert (merged["view_count"] == merged["views"]).all()
    # Independently: day-over-day falls of a channel's total views or video count.
    ordered = daily.sort_values(["channel_id", "date_utc"])
    previous = ordered.groupby("channel_id")[["views", "videos"]].shift()
    fell = (ordered["views"] < previous["views"]) | (ordered["videos"] < previous["videos"])
    assert warnings == int(fell.sum()) > 11


def test_monthly_video_snapshots_keep_blank_counts_as_null(tmp_path: Path) -> None:
    jan, feb = _monthly("01"), _monthly("02")
    clock = FixedClock()
    with Warehouse.open(tmp_path / "real.duckdb", clock=clock) as wh:
        for month in (jan, feb):
            at = _ts(month["snapshot_utc"].iloc[0])
            clock.now = at
            run = wh.start_run("csv:yt-channel-tracker", ["fleet"], [])
            videos = []
            for r in month.itertuples():
                seconds = parse_duration_seconds(r.duration_iso8601)
                videos.append(
                    Video(
                        video_id=r.video_id,
                        channel_id=r.channel_id,
                        title=str(r.title),
                        description="",
                        published_at=_ts(r.published_at),
                        duration_seconds=seconds,
                        duration_raw=r.duration_iso8601,
                        video_format=classify_format(seconds, in_shorts_playlist=None),
                        category_id=r.category_id,
                    )
                )
            snaps = [
                VideoSnapshot(
                    r.video_id,
                    at,
                    int(r.view_count),
                    None if pd.isna(r.like_count) else int(r.like_count),
                    None if pd.isna(r.comment_count) else int(r.comment_count),
                )
                for r in month.itertuples()
            ]
            wh.upsert_videos(run, videos)
            report = wh.load_checked_video_snapshots(run, snaps, now=at)
            # Real per-video views never fell between the two snapshots: nothing is rejected.
            assert report.ok, report.count_by_rule()
            wh.finish_run(run, "completed")
        frames = wh.load_frames()
        per_run = wh.query(
            "SELECT run_id, count(*) AS n, count(*) FILTER (WHERE like_count IS NULL) AS hidden_likes,"
            " count(*) FILTER (WHERE like_count = 0) AS zero_likes,"
            " count(*) FILTER (WHERE comment_count IS NULL) AS hidden_comments"
            " FROM video_snapshots GROUP BY run_id ORDER BY run_id"
        )
    expected = [
        [1, len(jan), int(jan["like_count"].isna().sum()), int((jan["like_count"] == 0).sum()), 51],
        [2, len(feb), 0, int((feb["like_count"] == 0).sum()), 0],
    ]
    assert per_run.values.tolist() == expected
    assert expected[0][2] == 111 and expected[1][3] == 337
    both = jan.merge(feb, on="video_id", suffixes=("_jan", "_feb"))
    assert len(both) == 3928
    videos = frames["videos"].set_index("video_id")
    assert len(videos) == len(set(jan["video_id"]) | set(feb["video_id"]))
    assert (videos.loc[both["video_id"], "view_count"].to_numpy() == both["view_count_feb"].to_numpy()).all()
    growth = frames["video_snapshots"].groupby("video_id")["view_count"].agg(["first", "last", "size"])
    two_point = growth[growth["size"] == 2]
    assert len(two_point) == 3928 and (two_point["last"] >= two_point["first"]).all()


def test_a_planted_view_drop_in_real_data_is_rejected_and_quarantined(tmp_path: Path) -> None:
    jan = _monthly("01").head(50)
    at = _ts(jan["snapshot_utc"].iloc[0])
    later = at + timedelta(days=7)
    clock = FixedClock(at)
    with Warehouse.open(tmp_path / "real.duckdb", clock=clock) as wh:
        run = wh.start_run("csv", ["fleet"], [])
        wh.upsert_videos(
            run,
            [
                Video(
                    r.video_id,
                    r.channel_id,
                    str(r.title),
                    "",
                    _ts(r.published_at),
                    None,
                    None,
                    VideoFormat.LONG,
                )
                for r in jan.itertuples()
            ],
        )
        wh.record_video_snapshots(
            run, [VideoSnapshot(r.video_id, at, int(r.view_count), None, None) for r in jan.itertuples()]
        )
        wh.finish_run(run, "completed")
        clock.now = later
        run2 = wh.start_run("csv", ["fleet"], [])
        snaps = [
            VideoSnapshot(r.video_id, later, int(r.view_count) + 5, None, None) for r in jan.itertuples()
        ]
        victim = snaps[3]
        snaps[3] = VideoSnapshot(victim.video_id, later, victim.view_count // 2, None, None)
        report = wh.load_checked_video_snapshots(run2, snaps)
        assert [i.entity_id for i in report.rejected] == [victim.video_id]
        assert report.rejected[0].rule is Rule.VIEWS_DECREASED
        assert len(report.accepted) == 49
        stored = wh.query("SELECT count(*) AS n FROM video_snapshots WHERE run_id = ?", [run2])
        assert stored["n"].tolist() == [49]
        [held] = wh.quarantined(run2)
        assert held.entity_id == victim.video_id and held.reason.startswith("views_decreased")
        assert held.payload["view_count"] == victim.view_count // 2
