from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tubescope.errors import ConfigError, DataQualityError
from tubescope.predict.baselines import (
    LEVEL_CHANNEL,
    LEVEL_CHANNEL_FORMAT,
    LEVEL_FORMAT,
    AgeCurve,
    ChannelBaselines,
    _row_quantiles,
    seasonal_naive,
)

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def _history(
    views: dict[str, list[tuple[float, int]]], published: dict[str, float], fmt: str = "long"
) -> pd.DataFrame:
    """Snapshots (age in days, views) per video of one channel, published ``published`` days after T0."""
    rows = []
    for video, snaps in views.items():
        for age, count in snaps:
            rows.append(
                {
                    "video_id": video,
                    "channel_id": "UCa",
                    "video_format": fmt,
                    "published_at": T0 + pd.Timedelta(days=published[video]),
                    "observed_at": T0 + pd.Timedelta(days=published[video] + age),
                    "view_count": count,
                }
            )
    return pd.DataFrame(rows)


def _targets(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Videos of 40 channels whose log views grow as 0.5 * log1p(age) over a channel level."""
    rng = np.random.default_rng(seed)
    channel = rng.integers(0, 40, n)
    age = np.exp(rng.uniform(0, 6, n))
    level = np.linspace(6, 12, 40)[channel]
    return pd.DataFrame(
        {
            "channel_id": [f"UC{c}" for c in channel],
            "video_format": np.where(rng.uniform(size=n) < 0.3, "short", "long"),
            "age_days": age,
            "log_views": level + 0.5 * np.log1p(age) + rng.normal(0, 0.1, n),
        }
    )


def test_the_age_curve_recovers_growth_net_of_channel_levels() -> None:
    targets = _targets()
    curve = AgeCurve().fit(
        np.log1p(targets["age_days"].to_numpy()),
        targets["log_views"].to_numpy(),
        np.zeros(len(targets), dtype=np.int64),
        targets["channel_id"].to_numpy(),
    )
    ages = np.log1p(np.array([3.0, 30.0, 200.0]))
    offsets = curve.offset(ages, np.zeros(3, dtype=np.int64))
    assert np.all(np.diff(offsets) >= 0)
    # Growth between ages is the planted 0.5 per unit of log age, whatever the channels' levels.
    assert offsets[2] - offsets[0] == pytest.approx(0.5 * (ages[2] - ages[0]), abs=0.2)


def test_history_observed_after_publish_is_used_at_the_videos_age() -> None:
    # Three earlier uploads, all first seen long after the new video was published (monthly snapshots).
    history = _history(
        {"a": [(100.0, 1000)], "b": [(60.0, 2000)], "c": [(40.0, 4000), (47.0, 4100)], "new": [(5.0, 50)]},
        {"a": 0.0, "b": 40.0, "c": 60.0, "new": 95.0},
    )
    targets = _targets()
    baselines = ChannelBaselines(window=20).fit(targets, history)
    row = pd.DataFrame(
        {"channel_id": ["UCa"], "video_format": ["long"], "published_at": [T0 + pd.Timedelta(days=95)]}
    )
    at_7 = baselines.predict(row, 7.0)
    assert at_7.level[0] == LEVEL_CHANNEL_FORMAT and at_7.count[0] == 3
    curve = baselines.curve_
    moved = [
        np.log1p(views) - curve.offset(np.log1p([age]), [1])[0] + curve.offset(np.log1p([7.0]), [1])[0]
        for age, views in ((100.0, 1000), (60.0, 2000), (40.0, 4000))
    ]
    assert at_7.age_curve[0] == pytest.approx(float(np.median(moved)))
    # The plain channel median takes each upload's latest snapshot, without moving it in age.
    assert at_7.channel_median[0] == pytest.approx(float(np.median(np.log1p([1000, 2000, 4100]))))
    # The video's own views and later uploads never enter its baseline.
    changed = history.copy()
    changed.loc[changed["video_id"] == "new", "view_count"] = 10**7
    later = _history({"d": [(1.0, 10**8)]}, {"d": 96.0})
    refreshed = baselines.with_history(pd.concat([changed, later], ignore_index=True)).predict(row, 7.0)
    assert refreshed.age_curve[0] == pytest.approx(at_7.age_curve[0])
    assert refreshed.channel_median[0] == pytest.approx(at_7.channel_median[0])


def test_fallbacks_are_labelled_and_the_window_keeps_the_most_recent_uploads() -> None:
    history = _history(
        {f"v{i}": [(10.0, 10 ** (1 + i))] for i in range(5)}, {f"v{i}": float(i) for i in range(5)}
    )
    baselines = ChannelBaselines(window=2).fit(_targets(), history)
    rows = pd.DataFrame(
        {
            "channel_id": ["UCa", "UCa", "UCunknown"],
            "video_format": ["long", "short", "long"],
            "published_at": [T0 + pd.Timedelta(days=10)] * 3,
        }
    )
    result = baselines.predict(rows, 10.0)
    assert list(result.level) == [LEVEL_CHANNEL_FORMAT, LEVEL_CHANNEL, LEVEL_FORMAT]
    assert result.count[0] == 2
    # The two most recent uploads (10^4 and 10^5 views at the same age as the target).
    assert result.age_curve[0] == pytest.approx(np.median(np.log1p([10**4, 10**5])))
    assert np.isnan(result.spread[2]) and np.isfinite(result.age_curve).all()
    with pytest.raises(ConfigError):
        ChannelBaselines(window=0)


def test_seasonal_naive_repeats_last_week_and_its_intervals_come_from_past_errors() -> None:
    rng = np.random.default_rng(1)
    week = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    series = np.tile(week, 20) + rng.normal(0, 0.1, 140)
    forecast = seasonal_naive(series, 10, levels=(0.8,))
    np.testing.assert_allclose(forecast.mean[:7], series[-7:])
    np.testing.assert_allclose(forecast.mean[7:], series[-7:-4])
    width = forecast.upper[0.8] - forecast.lower[0.8]
    assert np.all(width > 0) and np.all(width < 1.0)
    short = seasonal_naive(series[:8], 3, levels=(0.95,))
    assert np.isinf(short.upper[0.95]).all()
    with pytest.raises(DataQualityError):
        seasonal_naive(series[:3], 2)


@settings(deadline=None, max_examples=80)
@given(st.integers(1, 30), st.integers(0, 200), st.integers(0, 2**32 - 1), st.integers(0, 3))
def test_row_quantiles_equal_a_pandas_groupby(n: int, m: int, seed: int, decimals: int) -> None:
    """The numpy per-row median, quartiles and counts against pandas' grouped ones (ties included)."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n, m)
    values = rng.normal(size=m).round(decimals)
    median, q25, q75, count = _row_quantiles(rows, values, n, (0.5, 0.25, 0.75))
    grouped = pd.DataFrame({"row": rows, "value": values}).groupby("row")["value"]
    every = range(n)
    np.testing.assert_array_equal(median, grouped.median().reindex(every).to_numpy())
    np.testing.assert_allclose(q25, grouped.quantile(0.25).reindex(every).to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(q75, grouped.quantile(0.75).reindex(every).to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(count, grouped.size().reindex(every).fillna(0).to_numpy())
