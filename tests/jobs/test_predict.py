from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tubescope.errors import ChannelNotFound, ConfigError, InvalidChannelRef, ModelError
from tubescope.jobs.predict import PlannedVideo, Predictor, parse_duration, parse_publish_time
from tubescope.jobs.train import MODEL_KIND
from tubescope.predict.model import ENSEMBLE, Forecast, ForecastOptions, train_forecaster
from tubescope.predict.synthetic import SyntheticWorld, synthetic_frames
from tubescope.warehouse.model_store import save_model


@pytest.fixture(scope="module")
def world() -> SyntheticWorld:
    return synthetic_frames(n_channels=30, videos_per_channel=50, seed=8)


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory, world: SyntheticWorld) -> Predictor:
    result = train_forecaster(
        world.frames, ForecastOptions(n_estimators=60, forest_trees=15, n_bootstrap=200)
    )
    models = tmp_path_factory.mktemp("models")
    save_model(result.forecaster, models, kind=MODEL_KIND, feature_version=result.forecaster.feature_version)
    return Predictor.load(models)


def _video(channel: str, **changes: object) -> PlannedVideo:
    base = {
        "channel": channel,
        "title": "Top tips?",
        "duration_seconds": 45.0,
        "published_at": datetime(2025, 12, 30, 17, tzinfo=UTC),
        "short": True,
    }
    base.update(changes)
    return PlannedVideo(**base)  # type: ignore[arg-type]


def test_a_loaded_predictor_forecasts_by_id_or_handle(predictor: Predictor) -> None:
    by_id = predictor.predict(_video("UC0008000000000000000002"))
    by_handle = predictor.predict(_video("@SYNTH8C2"))
    assert by_id.expected_views == pytest.approx(by_handle.expected_views)
    assert by_id.video_format == "short" and by_id.horizon_days == 7.0
    # What /v1/predictions returns says what served the forecast and how it fared against the baseline.
    payload = by_id.to_dict()
    assert payload["served_by"] == predictor.forecaster.served and payload["skill"]
    assert {i["level"] for i in payload["intervals"]} == {0.8, 0.95}
    assert all(i["measured_coverage"] is not None for i in payload["intervals"])


def test_unknown_channels_and_wrong_horizons_are_refused(predictor: Predictor) -> None:
    with pytest.raises(ChannelNotFound):
        predictor.predict(_video("UC" + "z" * 22))
    with pytest.raises(InvalidChannelRef):
        predictor.predict(_video("https://youtu.be/dQw4w9WgXcQ"))
    with pytest.raises(ModelError, match="7 days"):
        predictor.predict(_video("@synth8c2"), horizon_days=14.0)
    with pytest.raises(ConfigError):
        predictor.predict(_video("@synth8c2", title="   "))
    with pytest.raises(ConfigError, match="timezone"):
        predictor.predict(_video("@synth8c2", published_at=datetime(2025, 12, 30, 17)))


def test_durations_and_publish_times_parse_like_people_write_them() -> None:
    assert parse_duration("630") == 630.0
    assert parse_duration("10:30") == 630.0
    assert parse_duration("1:00:05") == 3605.0
    assert parse_duration("PT10M30S") == 630.0
    for bad in ("", "ten minutes", "-5", "1:2:3:4"):
        with pytest.raises(ConfigError):
            parse_duration(bad)
    assert parse_publish_time("2026-03-01T17:00") == datetime(2026, 3, 1, 17, tzinfo=UTC)
    assert parse_publish_time("2026-03-01T18:00+01:00") == datetime(2026, 3, 1, 17, tzinfo=UTC)
    with pytest.raises(ConfigError):
        parse_publish_time("soon")


def test_a_model_trained_on_other_features_is_refused(tmp_path: Path, predictor: Predictor) -> None:
    save_model(predictor.forecaster, tmp_path, kind=MODEL_KIND, feature_version="0.0")
    with pytest.raises(ModelError, match="feature version"):
        Predictor.load(tmp_path)


def _planned_videos(world: SyntheticWorld, n: int) -> list[PlannedVideo]:
    """Varied planned videos: known and unknown channels, both formats, missing durations and
    categories, offsets other than UTC, times before, inside and after the channels' history."""
    rng = np.random.default_rng(11)
    videos = world.frames.videos.sample(n, random_state=2)
    channels = [*world.frames.channels["channel_id"].astype(str)]
    zones = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
    out = []
    for i, video in enumerate(videos.itertuples()):
        shift = timedelta(days=float(rng.uniform(-30, 400)), microseconds=int(rng.integers(0, 10**6)))
        start = pd.Timestamp(video.published_at).floor("us").to_pydatetime()
        published = (start + shift).astimezone(zones[i % 3])
        out.append(
            PlannedVideo(
                channel=channels[int(rng.integers(len(channels)))],
                title=str(video.title) + ("?" if i % 4 == 0 else ""),
                duration_seconds=None if i % 7 == 0 else float(rng.uniform(10, 5000)),
                published_at=published,
                short=bool(i % 2),
                tags=tuple(f"tag{k}" for k in range(int(rng.integers(0, 6)))),
                category_id=None
                if i % 5 == 0
                else ("music" if i % 11 == 0 else str(int(rng.integers(1, 30)))),
            )
        )
    return out


def _as_frame(videos: list[PlannedVideo]) -> pd.DataFrame:
    """The planned videos as the batch forecast's frame (what a caller with many videos builds)."""
    return pd.DataFrame(
        {
            "channel_id": [v.channel for v in videos],
            "title": [v.title for v in videos],
            "published_at": [pd.Timestamp(v.published_at) for v in videos],
            "duration_seconds": [
                math.nan if v.duration_seconds is None else v.duration_seconds for v in videos
            ],
            "video_format": ["short" if v.short else "long" for v in videos],
            "tag_count": [len(v.tags) for v in videos],
            "category_id": [v.category_id for v in videos],
        }
    )


def _assert_same_forecast(one: Forecast, batch: Forecast) -> None:
    def same(a: object, b: object, where: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            assert a.keys() == b.keys(), where
            for key in a:
                same(a[key], b[key], f"{where}.{key}")
        elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
            assert len(a) == len(b), where
            for k, (x, y) in enumerate(zip(a, b, strict=True)):
                same(x, y, f"{where}[{k}]")
        elif isinstance(a, float) and isinstance(b, float):
            assert a == pytest.approx(b, rel=1e-9, abs=1e-9), where
        else:
            assert a == b, where

    same(one.to_dict(), batch.to_dict(), "forecast")


@pytest.mark.parametrize("served", ["as trained", ENSEMBLE, "channel_median_x_age_curve"])
def test_one_prediction_equals_the_batch_forecast_of_the_same_videos(
    predictor: Predictor, world: SyntheticWorld, served: str
) -> None:
    if served != "as trained":
        predictor = Predictor(dataclasses.replace(predictor.forecaster, served=served), predictor.manifest)
    planned = _planned_videos(world, 120)
    batch = predictor.forecaster.forecast(_as_frame(planned))
    assert len({f.category for f in batch}) > 1 and len({f.channel_median_views is None for f in batch}) == 2
    for video, expected in zip(planned, batch, strict=True):
        _assert_same_forecast(predictor.predict(video), expected)
