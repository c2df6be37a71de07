"""The forecaster against the strongest baseline on real channel-tracker data (../shared/data/real).

Skipped with a reason where the data are absent. Small model settings: the point is the procedure
(rolling origins, paired bootstrap, calibrated intervals), not the last bit of accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tubescope.analysis.frames import ChannelFrames
from tubescope.domain.durations import parse_duration_seconds
from tubescope.predict.model import ForecastOptions, TrainingResult, train_forecaster

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL = REPO_ROOT.parent / "shared" / "data" / "real"
TRACKER = REAL / "yt-channel-tracker-2026"

pytestmark = pytest.mark.skipif(
    not (TRACKER / "videos_2026-02.csv").is_file(),
    reason=f"real channel-tracker data not available at {TRACKER} (../shared/data/real is absent)",
)


def tracker_frames() -> ChannelFrames:
    """The two monthly per-video snapshots as frames; format by duration (Shorts <= 180 s)."""
    parts = [pd.read_csv(TRACKER / f"videos_2026-0{m}.csv", encoding="utf-8-sig", dtype=str) for m in (1, 2)]
    rows = pd.concat(parts, ignore_index=True)
    rows["published_at"] = pd.to_datetime(rows["published_at"], utc=True, format="mixed")
    rows["observed_at"] = pd.to_datetime(rows["snapshot_utc"], utc=True, format="mixed")
    rows = rows.sort_values("observed_at")
    latest = rows.drop_duplicates("video_id", keep="last").reset_index(drop=True)
    raw = latest["duration_iso8601"].fillna("P0D")
    seconds = pd.Series([parse_duration_seconds(v) for v in raw], dtype="float64")
    live = raw.isin(["P0D", "PT0S"]) | seconds.isna()
    videos = pd.DataFrame(
        {
            "video_id": latest["video_id"],
            "channel_id": latest["channel_id"],
            "title": latest["title"].fillna(""),
            "published_at": latest["published_at"],
            "duration_seconds": seconds,
            "video_format": np.where(live, "live", np.where(seconds <= 180, "short", "long")),
            "tags": "",
            "tag_count": 0,
            "category_id": latest["category_id"],
        }
    )
    snapshots = pd.DataFrame(
        {
            "video_id": rows["video_id"],
            "channel_id": rows["channel_id"],
            "observed_at": rows["observed_at"],
            "view_count": pd.to_numeric(rows["view_count"], errors="coerce").astype("Int64"),
        }
    ).dropna(subset=["view_count"])
    channels = pd.DataFrame({"channel_id": videos["channel_id"].unique()}).assign(
        title="", handle=None, published_at=pd.NaT
    )
    empty = pd.DataFrame(
        {
            "channel_id": pd.Series(dtype=str),
            "observed_at": pd.Series(dtype="datetime64[ns, UTC]"),
            "subscriber_count": pd.Series(dtype="Int64"),
        }
    )
    return ChannelFrames(channels, videos, snapshots, empty)


@pytest.fixture(scope="module")
def trained() -> TrainingResult:
    options = ForecastOptions(n_estimators=60, forest_trees=15, n_bootstrap=300, n_origins=3)
    return train_forecaster(tracker_frames(), options)


def test_the_channel_median_uses_the_channels_own_history(trained: TrainingResult) -> None:
    report = trained.report
    for window in report.windows:
        # Monthly snapshots start after most uploads: history seen later must still count.
        assert window.baseline_levels["channel_same_format"] > 0.9
        # The two baselines are different forecasts, not one format median twice.
        assert window.mae["channel_median"].mae != pytest.approx(window.mae["channel_median_x_age_curve"].mae)
    assert report.baseline_age_curve.mae_high is not None
    assert report.baseline_age_curve.mae_high < report.baseline_channel_median.mae


def test_the_served_forecast_is_never_worse_than_the_best_baseline(trained: TrainingResult) -> None:
    report = trained.report
    assert len(report.windows) == 3 and report.n_test > 1500
    for window in report.windows:
        assert not window.served_vs_best.worse, window.origin
    assert report.served_vs_best is not None and not report.served_vs_best.worse
    # The ensemble itself beats the strongest baseline on this data, pooled over the windows.
    pooled = [w.ensemble_vs_best for w in report.windows]
    assert sum(c.better for c in pooled) >= 2
    if report.served == "ensemble":
        assert "beats" in report.skill.statement
    else:
        assert "did not" in report.skill.statement and "no skill" in report.skill.statement


def test_intervals_cover_their_level_within_sampling_error(trained: TrainingResult) -> None:
    for interval in trained.report.intervals:
        assert interval.coverage_low is not None and interval.coverage_high is not None
        assert interval.coverage_low - 0.02 <= interval.level <= interval.coverage_high + 0.02, interval
