"""Against the world simulator's planted truth: calibrated intervals and a gain over the baselines."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tubescope.analysis.frames import ChannelFrames
from tubescope.predict.model import ForecastOptions, TrainingResult, train_forecaster

world_module = pytest.importorskip("tubescope.emulator.world", reason="the world simulator is not available")
testing = pytest.importorskip("tubescope.testing", reason="tubescope.testing.world_frames is not available")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def simulated() -> tuple[ChannelFrames, TrainingResult, object]:
    world = world_module.World(seed=5, n_channels=60)
    first = datetime(2024, 3, 1, tzinfo=UTC)
    # Collected twice a week for eleven months, as a scheduled `tubescope collect` would.
    times = [first + timedelta(days=3.5 * k) for k in range(95)]
    frames = ChannelFrames(**testing.world_frames(world, world.channel_ids(), times))
    result = train_forecaster(frames, ForecastOptions(n_estimators=120, forest_trees=30))
    return frames, result, world


def test_intervals_cover_within_two_points_of_nominal(
    simulated: tuple[ChannelFrames, TrainingResult, object],
) -> None:
    _, result, _ = simulated
    report = result.report
    assert report.n_test > 700
    assert report.share_at_horizon > 0.95  # truth is views interpolated at exactly 7 days
    assert abs(report.coverage(0.8) - 0.8) <= 0.02
    assert abs(report.coverage(0.95) - 0.95) <= 0.02


def test_forecasts_beat_both_baselines(simulated: tuple[ChannelFrames, TrainingResult, object]) -> None:
    _, result, _ = simulated
    report = result.report
    assert report.gain_over(report.baseline_channel_median) > 0.10, report.served_vs_best
    # The channel median x age curve is strong on this world (it sees every earlier upload at the
    # video's age); the ensemble must still beat it with a CI that excludes 0.
    assert report.served_vs_best is not None and not report.served_vs_best.worse
    pooled = [w.ensemble_vs_best for w in report.windows]
    assert not any(c.worse for c in pooled)
    if report.served == "ensemble":
        assert sum(c.difference for c in pooled) < 0


def test_question_titles_gain_on_channels_with_a_planted_lift(
    simulated: tuple[ChannelFrames, TrainingResult, object],
) -> None:
    frames, result, world = simulated
    truth = {c.channel_id: c.title_lift for c in world.truth.channels}  # type: ignore[attr-defined]
    videos = frames.videos.sort_values("published_at").groupby("channel_id").tail(5)
    videos = videos[videos["video_format"] == "long"]
    plain = videos.assign(title=videos["title"].str.replace("?", "", regex=False))
    asked = plain.assign(title=plain["title"] + "?")

    # The ensemble's own forecasts, whether or not its margin over the baseline earned it serving.
    ensemble = dataclasses.replace(result.forecaster, served="ensemble")

    def logs(rows: object) -> np.ndarray:  # type: ignore[type-arg]
        return np.log1p([f.expected_views for f in ensemble.forecast(rows)])  # type: ignore[arg-type]

    gain = logs(asked) - logs(plain)
    lifted = videos["channel_id"].map(truth).to_numpy() > 1.0
    assert gain[lifted].mean() > gain[~lifted].mean()
    assert gain[lifted].mean() > 0.05
