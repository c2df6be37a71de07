from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
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


def _rewrite_manifest(folder: Path, **changes: object) -> dict[str, object]:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))
    return manifest


def test_every_kind_of_broken_store_is_a_model_error_that_names_the_fault(tmp_path: Path) -> None:
    version = _save(tmp_path, {"w": 1})
    folder = tmp_path / version
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path, feature_version="1.1", version="20990101T000000Z-deadbeef")
    (tmp_path / LATEST_FILE).write_text("\n")
    with pytest.raises(ModelError, match="invalid model version ''"):
        read_manifest(tmp_path)
    (tmp_path / LATEST_FILE).write_text(version + "\n")
    (folder / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ModelError, match="not a JSON object"):
        read_manifest(tmp_path)
    (folder / "manifest.json").write_text(json.dumps({"version": version, "kind": "view-forecaster"}))
    with pytest.raises(ModelError, match=r"incomplete or malformed.*feature_version"):
        read_manifest(tmp_path)
    (folder / "manifest.json").unlink()
    with pytest.raises(ModelError, match="the model folder is incomplete"):
        read_manifest(tmp_path, version)
    assert list_versions(tmp_path) == []  # a folder without a manifest is not a stored version
    assert list_versions(tmp_path / "nowhere") == []


def test_a_missing_or_unloadable_model_file_is_refused(tmp_path: Path) -> None:
    version = _save(tmp_path, [1, 2, 3])
    model_file = tmp_path / version / "model.joblib"
    model_file.rename(model_file.with_suffix(".moved"))
    with pytest.raises(ModelError, match="model file is missing"):
        load_model(tmp_path, feature_version="1.1")
    # Bytes that match the manifest's checksum but are not a model: the load itself fails.
    model_file.write_bytes(b"not a joblib file")
    _rewrite_manifest(tmp_path / version, sha256=hashlib.sha256(b"not a joblib file").hexdigest())
    with pytest.raises(ModelError, match="cannot load the model"):
        load_model(tmp_path, feature_version="1.1")


def test_library_versions_that_changed_since_saving_are_reported(tmp_path: Path) -> None:
    version = _save(tmp_path, "m")
    saved = read_manifest(tmp_path).libraries
    _rewrite_manifest(tmp_path / version, libraries={**saved, "numpy": "0.0.1", "not-installed": "9"})
    loaded = load_model(tmp_path, feature_version="1.1")
    assert loaded.library_mismatches == {"numpy": ("0.0.1", saved["numpy"])}


def test_the_same_model_saved_twice_in_one_second_keeps_one_copy(tmp_path: Path) -> None:
    first = _save(tmp_path, {"same": True})
    again = _save(tmp_path, {"same": True})
    assert first == again and list_versions(tmp_path) == [first]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging")]


def test_a_store_that_cannot_be_written_is_a_model_error(tmp_path: Path) -> None:
    blocker = tmp_path / "models"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ModelError, match="cannot write models under"):
        _save(blocker, "m")


def test_manifest_values_are_plain_json(tmp_path: Path) -> None:
    metrics = {
        "n": np.int64(7), "mae": np.float64(0.5), "whole": np.float32(2.0), "inf": float("inf"),
        "pairs": (1, np.float64(float("nan"))), "when": datetime(2026, 1, 1, tzinfo=UTC), "ok": True,
    }  # fmt: skip
    version = save_model("m", tmp_path, kind="k", feature_version="1", metrics=metrics).version
    stored = json.loads((tmp_path / version / "manifest.json").read_text())["metrics"]
    assert stored == {
        "n": 7, "mae": 0.5, "whole": 2.0, "inf": None, "pairs": [1, None],
        "when": "2026-01-01 00:00:00+00:00", "ok": True,
    }  # fmt: skip
