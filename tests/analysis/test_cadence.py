from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tubescope.analysis.cadence import analyze_cadence

NOW = datetime(2026, 5, 1, 18, 0, tzinfo=UTC)


def _videos(times: list[datetime], formats: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "video_id": [f"v{i:010d}" for i in range(len(times))],
            "published_at": pd.to_datetime(times, utc=True),
            "video_format": formats,
        }
    )


def test_a_weekly_schedule_is_one_upload_a_week_with_regular_gaps() -> None:
    first = NOW - timedelta(days=7 * 20)
    times = [first + timedelta(days=7 * i) for i in range(20)]  # the last one a week before now
    result = analyze_cadence(_videos(times, ["long"] * 20), NOW)
    stats = result.stats("long")
    assert stats.uploads_per_week == pytest.approx(1.0)
    assert stats.median_gap_hours == pytest.approx(168.0) and stats.gap_cv == pytest.approx(0.0)
    assert stats.uploads_per_week_last_28d == pytest.approx(0.75)  # (now - 28 d, now] holds three
    assert result.hours_since_last_upload == pytest.approx(168.0)
    assert result.stats("short").n_uploads == 0 and result.stats("short").uploads_per_week is None
    weekly = dict(result.weekly_uploads)
    assert sum(weekly.values()) == 20 and set(weekly.values()) <= {0, 1}
    assert all(pd.Timestamp(w).day_of_week == 0 for w in weekly)  # weeks start on Monday


def test_longest_gap_and_formats_apart() -> None:
    base = NOW - timedelta(days=100)
    long_times = [base, base + timedelta(days=2), base + timedelta(days=40), base + timedelta(days=42)]
    short_times = [base + timedelta(days=d, hours=1) for d in range(0, 90, 1)]
    videos = _videos(long_times + short_times, ["long"] * 4 + ["short"] * 90)
    result = analyze_cadence(videos, NOW)
    assert result.stats("long").max_gap_hours == pytest.approx(38 * 24)
    assert result.stats("short").median_gap_hours == pytest.approx(24.0)
    assert result.stats("all").n_uploads == 94
    assert result.hours_since_last_upload == pytest.approx(11 * 24 - 1)
    long_only = analyze_cadence(_videos(long_times, ["long"] * 4), NOW)
    assert long_only.longest_gap_start == pd.Timestamp(base + timedelta(days=2)).isoformat()
    assert long_only.longest_gap_end == pd.Timestamp(base + timedelta(days=40)).isoformat()
    json.dumps(result.to_dict(), allow_nan=False)


def test_future_videos_are_ignored_and_an_empty_channel_is_not_an_error() -> None:
    videos = _videos([NOW + timedelta(days=1)], ["long"])
    result = analyze_cadence(videos, NOW)
    assert result.n_uploads == 0 and result.last_upload is None and result.weekly_uploads == ()
