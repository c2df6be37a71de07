from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tests.analysis.planted_frames import EMULATOR_NOW, EMULATOR_SEEDS, emulator_frames
from tubescope.analysis.growth import DailyGain, analyze_growth
from tubescope.analysis.timing import (
    WEEKDAYS,
    TimingOptions,
    analyze_daily_season,
    analyze_timing,
    daily_season_from_videos,
)
from tubescope.errors import ConfigError

START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday


def _videos(n: int, seed: int, lift: dict[int, float], hour_lift: dict[int, float] | None = None,
            ) -> tuple[pd.DataFrame, pd.Series]:  # fmt: skip
    rng = np.random.default_rng(seed)
    published = [START + timedelta(days=float(d)) for d in rng.uniform(0, 365, n)]
    stamps = pd.to_datetime(published, utc=True)
    effect = np.array([lift.get(int(w), 1.0) for w in stamps.day_of_week])
    effect *= np.array([(hour_lift or {}).get(int(h) // 3, 1.0) for h in stamps.hour])
    ids = [f"v{i:010d}" for i in range(n)]
    videos = pd.DataFrame({"video_id": ids, "published_at": stamps, "video_format": "long"})
    return videos, pd.Series(rng.lognormal(0.0, 0.5, n) * effect, index=ids)


def test_a_strong_weekday_effect_is_found_with_its_confidence() -> None:
    videos, perf = _videos(350, seed=3, lift={3: 1.8})
    result = analyze_timing(videos, perf)
    weekday = result.weekday
    assert weekday.best == "Thursday" and weekday.significant
    assert weekday.kruskal_p is not None and weekday.kruskal_p < 0.001
    assert weekday.ci_low is not None and weekday.ci_high is not None
    assert 1.0 < weekday.ci_low < weekday.median_ratio < weekday.ci_high  # type: ignore[operator]
    assert weekday.median_ratio == pytest.approx(1.8, rel=0.25)
    assert weekday.best_n + weekday.rest_n == 350
    assert weekday.best_stability is not None and weekday.best_stability > 0.9
    assert weekday.statement.startswith("best weekday: Thursday") and "n=" in weekday.statement
    assert {g.label: g.n for g in weekday.groups}["Thursday"] == weekday.best_n
    json.dumps(result.to_dict(), allow_nan=False)


def test_an_hour_effect_is_found_in_its_bucket() -> None:
    videos, perf = _videos(400, seed=5, lift={}, hour_lift={5: 2.0})
    result = analyze_timing(videos, perf)
    assert result.hour.best == "15:00-17:59 UTC" and result.hour.significant
    assert not result.weekday.significant


def test_no_effect_says_no_reliable_difference_most_of_the_time() -> None:
    claims = 0
    for seed in range(20):
        videos, perf = _videos(200, seed=100 + seed, lift={})
        weekday = analyze_timing(videos, perf, TimingOptions(n_bootstrap=500)).weekday
        claims += weekday.significant
        if not weekday.significant:
            assert weekday.statement.startswith("no reliable difference between weekdays")
    assert claims <= 2  # alpha = 5% and a CI that must clear 1: expect about one false claim in 20


def test_too_few_videos_is_stated_not_guessed() -> None:
    videos, perf = _videos(6, seed=1, lift={})
    result = analyze_timing(videos, perf)
    assert result.weekday.best is None and not result.weekday.significant
    assert result.weekday.statement.startswith("not enough data")


def test_the_weekly_season_of_daily_views_is_recovered() -> None:
    rng = np.random.default_rng(7)
    multipliers = [0.8, 0.85, 0.9, 0.95, 1.1, 1.5, 0.9]  # Saturday peak
    days = pd.date_range("2025-01-01", periods=200, freq="D")
    level = np.linspace(1000, 3000, len(days))  # steady growth must not bias the season
    gains = level * np.array([multipliers[d.day_of_week] for d in days]) * rng.lognormal(0, 0.1, len(days))
    daily = [DailyGain(d.strftime("%Y-%m-%d"), float(g), None) for d, g in zip(days, gains, strict=True)]
    season = analyze_daily_season(daily)
    assert season.best == "Saturday" and season.significant
    assert season.median_ratio == pytest.approx(1.5 / np.mean(multipliers[:5] + multipliers[6:]), rel=0.1)


@pytest.mark.parametrize(
    "kwargs", [{"alpha": 1.5}, {"n_bootstrap": 10}, {"hour_bucket_hours": 5}, {"min_group_size": 1}]
)
def test_invalid_options_raise_config_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        TimingOptions(**kwargs)  # type: ignore[arg-type]


def test_the_emulators_planted_weekly_season_is_recovered() -> None:
    strong = matched = claims = right_claims = 0
    for seed in EMULATOR_SEEDS:
        world, frames = emulator_frames(seed)
        for channel_id in world.channel_ids():
            truth = world.channel_truth(channel_id)
            videos = frames.videos[frames.videos["channel_id"] == channel_id]
            snaps = frames.video_snapshots[frames.video_snapshots["channel_id"] == channel_id]
            channel_snaps = frames.channel_snapshots[frames.channel_snapshots["channel_id"] == channel_id]
            season = daily_season_from_videos(videos, snaps, EMULATOR_NOW) or analyze_daily_season(
                analyze_growth(channel_snaps, videos, snaps, EMULATOR_NOW).daily
            )
            multipliers = np.array(truth.weekday_multipliers)
            ranked = np.argsort(multipliers)[::-1]
            if season.significant:
                claims += 1
                best = WEEKDAYS.index(season.best)  # type: ignore[arg-type]
                # A claimed best day must really be watched more than the rest of the week.
                right_claims += multipliers[best] > np.delete(multipliers, best).mean()
            # Strong: a clear single peak on a channel big enough for daily counts to show it.
            if multipliers[ranked[0]] - multipliers[ranked[1]] >= 0.03 and truth.median_views >= 5000:
                strong += 1
                matched += season.best == WEEKDAYS[ranked[0]]
    assert strong >= 4
    assert matched == strong, (matched, strong)
    assert claims >= 10 and right_claims == claims, (claims, right_claims)
