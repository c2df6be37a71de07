from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.predict.warehouse_fill import fill_warehouse
from tubescope.errors import StorageError
from tubescope.jobs.train import report_table, train
from tubescope.predict.features import FEATURE_VERSION
from tubescope.predict.model import ForecastOptions
from tubescope.predict.synthetic import synthetic_frames
from tubescope.warehouse.model_store import list_versions, read_manifest

FAST = ForecastOptions(n_estimators=60, forest_trees=15, n_bootstrap=200)


@pytest.fixture(scope="module")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "tubescope.duckdb"
    fill_warehouse(path, synthetic_frames(n_channels=30, videos_per_channel=50, seed=5).frames)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_train_job_reads_the_warehouse_and_stores_a_versioned_model(
    warehouse_path: Path, tmp_path: Path
) -> None:
    outcome = train(db_path=warehouse_path, model_dir=tmp_path / "models", options=FAST)
    manifest = read_manifest(tmp_path / "models")
    assert manifest.version == outcome.manifest.version
    assert manifest.feature_version == FEATURE_VERSION
    assert manifest.data_window["n_videos"] > 1000 and manifest.data_window["n_channels"] == 30
    assert manifest.metrics["model"]["mae"] == pytest.approx(outcome.report.model.mae)
    assert manifest.settings["horizon_days"] == 7.0
    assert outcome.report.model.mae < outcome.report.baseline_channel_median.mae
    # The manifest says plainly what is served and why, with the figures.
    assert manifest.metrics["served"] == outcome.report.served
    assert manifest.metrics["skill"]["statement"] == outcome.report.skill.statement
    assert "best baseline" in outcome.report.skill.statement
    rendered = report_table(outcome)
    assert rendered.row_count == 6  # served, ensemble, two baselines, two intervals
    assert outcome.report.skill.statement in str(rendered.caption)


def test_a_missing_warehouse_is_a_clear_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no warehouse"):
        train(db_path=tmp_path / "absent.duckdb", model_dir=tmp_path / "models", options=FAST)
    assert list_versions(tmp_path / "models") == []


def test_train_and_predict_commands_work_end_to_end(warehouse_path: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    trained = run_cli(
        "train", "--db", str(warehouse_path), "--model-dir", str(models), "--trees", "40", "--json"
    )
    assert trained.returncode == 0, trained.stderr
    payload = json.loads(trained.stdout)
    evaluation = payload["evaluation"]
    assert {"model", "baseline_channel_median", "baseline_age_curve", "intervals", "windows"} <= set(
        evaluation
    )
    assert payload["served"] in {"ensemble", "channel_median", "channel_median_x_age_curve"}
    assert "best baseline" in payload["skill"]

    assert len(list_versions(models)) == 1

    args = [
        "predict",
        "--channel",
        "@synth5c3",
        "--title",
        "Why is this the BEST setup?",
        "--duration",
        "10:30",
    ]
    args += ["--publish-at", "2025-12-20T18:00Z", "--tags", "setup,review", "--db", str(warehouse_path)]
    predicted = run_cli(*args, "--model-dir", str(models), "--json")
    assert predicted.returncode == 0, predicted.stderr
    forecast = json.loads(predicted.stdout)
    assert forecast["channel_id"] == "UC0005000000000000000003"
    low80, high80 = forecast["intervals"][0]["low"], forecast["intervals"][0]["high"]
    low95, high95 = forecast["intervals"][1]["low"], forecast["intervals"][1]["high"]
    assert low95 <= low80 <= forecast["expected_views"] <= high80 <= high95
    assert forecast["category"] in {"below", "expected", "above", "breakout"}
    assert forecast["served_by"] == payload["served"] and forecast["skill"] == payload["skill"]
    assert len(forecast["top_contributions"]) == (5 if forecast["served_by"] == "ensemble" else 0)
    assert all(0.0 <= i["measured_coverage"] <= 1.0 for i in forecast["intervals"])

    human = run_cli(*args, "--model-dir", str(models))
    assert human.returncode == 0 and "80% interval" in human.stdout and "category" in human.stdout
    assert "served by" in human.stdout and "in backtests" in human.stdout

    no_model = run_cli(*args, "--model-dir", str(tmp_path / "none"))
    assert no_model.returncode == 12 and "tubescope train" in no_model.stderr
    assert "Traceback" not in no_model.stderr
