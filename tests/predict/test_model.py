from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from tubescope.errors import ConfigError, DataQualityError
from tubescope.predict.model import (
    ForecastOptions,
    PerformanceCategory,
    TrainingResult,
    categorise,
    train_forecaster,
)
from tubescope.predict.synthetic import EVENING_EFFECT, QUESTION_EFFECT, SyntheticWorld, synthetic_frames


def test_the_ensemble_earns_its_place_over_the_strongest_baseline(trained: TrainingResult) -> None:
    report = trained.report
    assert report.n_test > 1000 and len(report.windows) == 3
    # Planted title and timing effects are invisible to both baselines: the ensemble must show it.
    assert report.served == "ensemble" and trained.forecaster.served == "ensemble"
    assert report.skill.ensemble_vs_best.better and "beats" in report.skill.statement
    assert report.served_vs_best is not None and report.served_vs_best.better
    assert report.gain_over(report.best_baseline) > 0.05
    for window in report.windows:
        assert window.served_vs_best.high < 0, window.origin


def test_intervals_hold_their_level_within_sampling_error(trained: TrainingResult) -> None:
    report = trained.report
    for interval in report.intervals:
        assert interval.coverage_low is not None and interval.coverage_high is not None
        assert interval.coverage_low - 0.02 <= interval.level <= interval.coverage_high + 0.02
    assert set(trained.forecaster.measured_coverage) == {0.8, 0.95}


def test_rolling_origins_are_in_publish_order_and_fit_only_on_the_past(trained: TrainingResult) -> None:
    windows = trained.report.windows
    for earlier, later in itertools.pairwise(windows):
        assert pd.Timestamp(earlier.test_to) <= pd.Timestamp(later.origin)
        assert later.n_train == earlier.n_train + earlier.n_test
    bounds = trained.report.split_bounds
    assert pd.Timestamp(bounds["fit"].split(" .. ")[1]) <= pd.Timestamp(bounds["validation"].split(" .. ")[0])


def test_planted_title_and_timing_effects_are_recovered(
    world: SyntheticWorld, trained: TrainingResult
) -> None:
    recent = world.frames.videos.sort_values("published_at").tail(400)
    recent = recent[recent["video_format"] == "long"].copy()
    day = recent["published_at"].dt.normalize()

    def mean_log_forecast(videos: pd.DataFrame) -> float:
        return float(np.mean(np.log1p([f.expected_views for f in trained.forecaster.forecast(videos)])))

    plain = recent.assign(title=recent["title"].str.rstrip("?"), published_at=day + pd.Timedelta(hours=9))
    asked = plain.assign(title=plain["title"] + "?")
    evening = plain.assign(published_at=day + pd.Timedelta(hours=18))
    assert mean_log_forecast(asked) - mean_log_forecast(plain) == pytest.approx(QUESTION_EFFECT, abs=0.12)
    assert mean_log_forecast(evening) - mean_log_forecast(plain) == pytest.approx(EVENING_EFFECT, abs=0.12)
    one = trained.forecaster.forecast(asked.head(50))
    assert sum(any(c.feature == "title_has_question" for c in f.top_contributions) for f in one) > 25


def test_a_forecast_has_ordered_intervals_and_a_category(
    world: SyntheticWorld, trained: TrainingResult
) -> None:
    video = world.frames.videos.sort_values("published_at").tail(1)
    forecast = trained.forecaster.forecast(video)[0]
    i80, i95 = forecast.interval(0.8), forecast.interval(0.95)
    assert 0 <= i95.low <= i80.low <= forecast.expected_views <= i80.high <= i95.high
    assert forecast.category in set(PerformanceCategory) - {PerformanceCategory.UNKNOWN}
    assert forecast.channel_median_views is not None
    assert forecast.ratio_to_median == pytest.approx(forecast.expected_views / forecast.channel_median_views)
    assert len(forecast.top_contributions) == 5
    payload = forecast.to_dict()
    assert payload["category"] == forecast.category.value and len(payload["intervals"]) == 2


def test_categories_follow_the_ratio_to_the_channel_median() -> None:
    assert categorise(50, 100) is PerformanceCategory.BELOW
    assert categorise(100, 100) is PerformanceCategory.EXPECTED
    assert categorise(200, 100) is PerformanceCategory.ABOVE
    assert categorise(300, 100) is PerformanceCategory.BREAKOUT
    assert categorise(300, None) is PerformanceCategory.UNKNOWN


def test_too_little_data_is_a_clear_error() -> None:
    tiny = synthetic_frames(n_channels=2, videos_per_channel=20, seed=9).frames
    with pytest.raises(DataQualityError, match="at least"):
        train_forecaster(tiny)
    with pytest.raises(ConfigError):
        ForecastOptions(validation_share=0.9)
    with pytest.raises(ConfigError):
        ForecastOptions(n_origins=10, window_share=0.1)


def test_horizons_parse_in_days_hours_or_weeks() -> None:
    from tubescope.predict.model import parse_horizon

    assert parse_horizon("7d") == 7.0
    assert parse_horizon("48h") == 2.0
    assert parse_horizon("2w") == 14.0
    assert parse_horizon("3") == 3.0
    for bad in ("", "soon", "-1d", "0h", "nand"):
        with pytest.raises(ConfigError):
            parse_horizon(bad)
