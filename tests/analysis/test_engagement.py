from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tubescope.analysis.engagement import analyze_engagement
from tubescope.domain.durations import parse_duration_seconds
from tubescope.errors import DataQualityError

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "yt-trending-daily-2026"


def _videos(views: list[float | None], likes: list[float | None], comments: list[float | None],
            formats: list[str]) -> pd.DataFrame:  # fmt: skip
    n = len(views)
    return pd.DataFrame(
        {
            "video_id": [f"v{i:010d}" for i in range(n)],
            "video_format": formats,
            "view_count": pd.array(views, dtype="Int64"),
            "like_count": pd.array(likes, dtype="Int64"),
            "comment_count": pd.array(comments, dtype="Int64"),
        }
    )


def test_hidden_likes_are_excluded_from_the_denominator_and_counted() -> None:
    videos = _videos([1000, 1000, 1000, 0], [100, None, 20, 5], [0, 50, None, 0], ["long"] * 4)
    result = analyze_engagement(videos)
    stats = result.stats("long")
    # 0.1 and 0.02 (disabled comments count as zero); hidden likes and zero views give no rate.
    assert stats.n_rated == 2 and stats.n_hidden_likes == 1 and stats.n_no_views == 1
    assert stats.n_comments_disabled == 1
    assert stats.mean == pytest.approx(0.06) and stats.median == pytest.approx(0.06)
    assert dict(result.per_video) == {"v0000000000": pytest.approx(0.1), "v0000000002": pytest.approx(0.02)}


def test_formats_are_kept_apart() -> None:
    videos = _videos(
        [100, 100, 1000, 1000], [30, 20, 10, 30], [0, 0, 0, 10], ["short", "short", "long", "long"]
    )
    result = analyze_engagement(videos)
    assert result.stats("short").median == pytest.approx(0.25)
    assert result.stats("long").median == pytest.approx(0.025)
    assert result.stats("live").n_videos == 0 and result.stats("live").mean is None
    assert result.stats("all").n_rated == 4


def test_result_is_json_safe_and_labelled_derived() -> None:
    result = analyze_engagement(_videos([None], [None], [None], ["live"]))
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["derived"] is True and "derived" in payload["definition"]
    assert all(row["derived"] for row in payload["by_format"])


def test_missing_columns_raise_a_typed_error() -> None:
    with pytest.raises(DataQualityError, match="like_count"):
        analyze_engagement(pd.DataFrame({"video_id": ["x"], "video_format": ["long"], "view_count": [1]}))


def _trending_videos() -> pd.DataFrame:
    files = sorted(REAL.glob("trending_US_*.csv"))
    if not files:
        pytest.skip(f"real trending data not found under {REAL}")
    raw = pd.read_csv(files[0], dtype={"video_id": str, "category_id": str, "channel_id": str})
    raw["fetched_at"] = pd.to_datetime(raw["fetched_at"], utc=True, format="mixed")
    latest = raw.sort_values("fetched_at").drop_duplicates("video_id", keep="last").reset_index(drop=True)
    seconds = latest["duration_raw"].map(parse_duration_seconds)
    fmt = np.where(
        latest["is_live"].astype(bool) | seconds.isna(),
        "live",
        np.where(seconds.fillna(0) <= 180, "short", "long"),
    )
    views = latest["views"].astype("Int64")
    # The CSV writes absent counts as 0: zero views means "no statistics", zero likes with views means hidden.
    no_stats = views == 0
    return pd.DataFrame(
        {
            "video_id": latest["video_id"],
            "channel_id": latest["channel_id"],
            "video_format": fmt,
            "view_count": views.mask(no_stats),
            "like_count": latest["likes"].astype("Int64").mask(latest["likes"] == 0),
            "comment_count": latest["comments"].astype("Int64"),
        }
    )


def _independent(frame: pd.DataFrame) -> tuple[int, int, float, float, float]:
    """Plain pandas: rate over videos with views > 0 and likes shown."""
    ok = frame["view_count"].notna() & (frame["view_count"] > 0) & frame["like_count"].notna()
    sub = frame[ok]
    rate = (sub["like_count"].astype(float) + sub["comment_count"].astype(float).fillna(0)) / sub[
        "view_count"
    ].astype(float)
    hidden = int(frame["like_count"].isna().sum())
    return len(rate), hidden, float(rate.mean()), float(rate.median()), float(rate.quantile(0.95))


def test_matches_an_independent_computation_on_real_trending_data() -> None:
    videos = _trending_videos()
    result = analyze_engagement(videos)
    checked = 0
    for label in ("all", "short", "long", "live"):
        subset = videos if label == "all" else videos[videos["video_format"] == label]
        n, hidden, mean, median, p95 = _independent(subset)
        stats = result.stats(label)
        assert (stats.n_rated, stats.n_hidden_likes) == (n, hidden)
        if n:
            assert stats.mean == pytest.approx(mean, rel=1e-9, abs=1e-12)
            assert stats.median == pytest.approx(median, rel=1e-9, abs=1e-12)
            assert stats.p95 == pytest.approx(p95, rel=1e-9, abs=1e-12)
            checked += 1
    assert checked >= 3
    assert result.stats("all").n_hidden_likes > 0  # the real data has hidden likes (e.g. lGIRPdpyio0)
    # Per channel, as a channel analysis would see it: the ten channels with the most trending videos.
    for channel_id in videos["channel_id"].value_counts().index[:10]:
        frame = videos[videos["channel_id"] == channel_id]
        n, hidden, mean, median, p95 = _independent(frame)
        stats = analyze_engagement(frame).stats("all")
        assert (stats.n_rated, stats.n_hidden_likes) == (n, hidden)
        if n:
            assert stats.mean == pytest.approx(mean, rel=1e-9)
            assert stats.median == pytest.approx(median, rel=1e-9)
            assert stats.p95 == pytest.approx(p95, rel=1e-9)
