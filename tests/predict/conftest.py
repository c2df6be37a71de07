from __future__ import annotations

import pytest

from tubescope.predict.model import ForecastOptions, TrainingResult, train_forecaster
from tubescope.predict.synthetic import SyntheticWorld, synthetic_frames

SMALL = ForecastOptions(n_estimators=80, forest_trees=20, n_bootstrap=200)


@pytest.fixture(scope="session")
def world() -> SyntheticWorld:
    return synthetic_frames(n_channels=60, videos_per_channel=80, seed=3)


@pytest.fixture(scope="session")
def trained(world: SyntheticWorld) -> TrainingResult:
    return train_forecaster(world.frames, SMALL)
