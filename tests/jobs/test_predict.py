from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tubescope.errors import ChannelNotFound, ConfigError, InvalidChannelRef, ModelError
from tubescope.jobs.predict import PlannedVideo, Predictor, parse_duration, parse_publish_time
from tubescope.jobs.train import MODEL_KIND
from tubescope.predict.model import ForecastOptions, train_forecaster
from tubescope.predict.synthetic import synthetic_frames
from tubescope.warehouse.model_store import save_model


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    world = synthetic_frames(n_channels=30, videos_per_channel=50, seed=8)
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
