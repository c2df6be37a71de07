from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tubescope.errors import ModelError
from tubescope.warehouse.model_store import (
    LATEST_FILE,
    list_versions,
    load_model,
    read_manifest,
    save_model,
)


def _save(model_dir: Path, model: object, *, feature_version: str = "1.1", second: int = 0) -> str:
    manifest = save_model(
        model,
        model_dir,
        kind="view-forecaster",
        feature_version=feature_version,
        metrics={"mae": 0.31, "coverage_80": float("nan")},
        data_window={"published_from": "2025-01-01", "n_videos": 1234},
        settings={"horizon_days": 7.0},
        now=datetime(2026, 1, 2, 3, 4, second, tzinfo=UTC),
    )
    return manifest.version


def test_a_saved_model_loads_back_with_its_manifest(tmp_path: Path) -> None:
    version = _save(tmp_path, {"weights": [0.2, 0.8]})
    loaded = load_model(tmp_path, feature_version="1.1", kind="view-forecaster")
    assert loaded.model == {"weights": [0.2, 0.8]}
    assert loaded.manifest.version == version and version.startswith("20260102T030400Z-")
    manifest = json.loads((tmp_path / version / "manifest.json").read_text())
    assert manifest["feature_version"] == "1.1"
    assert manifest["metrics"] == {"mae": 0.31, "coverage_80": None}  # NaN is not valid JSON
    assert manifest["data_window"]["n_videos"] == 1234
    assert {"python", "numpy", "scikit-learn", "lightgbm", "tubescope"} <= set(manifest["libraries"])
    assert loaded.library_mismatches == {}


def test_latest_points_at_the_newest_and_older_versions_stay_loadable(tmp_path: Path) -> None:
    first = _save(tmp_path, "old", second=1)
    second = _save(tmp_path, "new", second=2)
    assert list_versions(tmp_path) == [first, second]
    assert load_model(tmp_path, feature_version="1.1").model == "new"
    assert load_model(tmp_path, feature_version="1.1", version=first).model == "old"


def test_a_model_of_another_feature_version_is_refused_clearly(tmp_path: Path) -> None:
    _save(tmp_path, "model", feature_version="1.1")
    with pytest.raises(ModelError, match=r"feature version 1\.1.*feature version 2\.0.*tubescope train"):
        load_model(tmp_path, feature_version="2.0")


def test_missing_damaged_or_foreign_models_raise_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no trained model"):
        load_model(tmp_path / "empty", feature_version="1.1")
    version = _save(tmp_path, list(range(100)))
    with pytest.raises(ModelError, match="not 'other'"):
        load_model(tmp_path, feature_version="1.1", kind="other")
    with pytest.raises(ModelError, match="invalid model version"):
        load_model(tmp_path, feature_version="1.1", version="../etc")
    model_file = tmp_path / version / "model.joblib"
    model_file.write_bytes(model_file.read_bytes()[:-5] + b"xxxxx")
    with pytest.raises(ModelError, match="checksum"):
        load_model(tmp_path, feature_version="1.1")
    (tmp_path / version / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="manifest"):
        read_manifest(tmp_path)


def test_a_failed_save_leaves_the_previous_model_in_place(tmp_path: Path) -> None:
    version = _save(tmp_path, "good")

    class Unpicklable:
        def __reduce__(self) -> tuple[object, ...]:
            raise RuntimeError("cannot pickle this")

    with pytest.raises(RuntimeError):
        _save(tmp_path, Unpicklable(), second=9)
    assert (tmp_path / LATEST_FILE).read_text().strip() == version
    assert list_versions(tmp_path) == [version]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging")]
    assert load_model(tmp_path, feature_version="1.1").model == "good"
