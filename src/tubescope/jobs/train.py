"""The train job: the warehouse in, a versioned view-forecast model and its evaluation out."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from tubescope.analysis.frames import ChannelFrames
from tubescope.config import Settings, load_settings
from tubescope.errors import StorageError
from tubescope.predict.evaluate import EvaluationReport, PointMetrics
from tubescope.predict.features import FEATURE_VERSION
from tubescope.predict.model import ForecastOptions, train_forecaster
from tubescope.warehouse.model_store import ModelManifest, save_model
from tubescope.warehouse.repository import Warehouse

MODEL_KIND = "view-forecaster"


@dataclass(frozen=True)
class TrainOutcome:
    manifest: ModelManifest
    report: EvaluationReport
    model_dir: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_dir": str(self.model_dir),
            "version": self.manifest.version,
            "feature_version": self.manifest.feature_version,
            "data_window": self.manifest.data_window,
            "evaluation": self.report.to_dict(),
            "gain_over_channel_median": self.report.gain_over(self.report.baseline_channel_median),
            "gain_over_age_curve": self.report.gain_over(self.report.baseline_age_curve),
            "gain_over_horizon_prior": self.report.gain_over(self.report.baseline_horizon_prior),
        }


def load_warehouse_frames(db_path: Path, channel_ids: Sequence[str] | None = None) -> ChannelFrames:
    """The frames of the warehouse at ``db_path`` (all channels, or ``channel_ids``), read-only."""
    if not db_path.is_file():
        raise StorageError(f"no warehouse at {db_path}; collect some channels first (`tubescope collect`)")
    with Warehouse.open(db_path, read_only=True) as warehouse:
        frames = warehouse.load_frames(list(channel_ids) if channel_ids is not None else None)
    return ChannelFrames(
        channels=frames["channels"],
        videos=frames["videos"],
        video_snapshots=frames["video_snapshots"],
        channel_snapshots=frames["channel_snapshots"],
    )


def train(
    *,
    db_path: Path | None = None,
    model_dir: Path | None = None,
    horizon_days: float = 7.0,
    options: ForecastOptions | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> TrainOutcome:
    """Train on everything in the warehouse (time-based split) and store the model as a new version."""
    cfg = settings or load_settings(db_path=db_path, model_dir=model_dir)
    db = db_path or cfg.db_path
    target_dir = model_dir or cfg.model_dir
    opts = options or ForecastOptions(horizon_days=horizon_days)
    frames = load_warehouse_frames(db)
    result = train_forecaster(frames, opts)
    manifest = save_model(
        result.forecaster,
        target_dir,
        kind=MODEL_KIND,
        feature_version=FEATURE_VERSION,
        metrics=result.report.to_dict(),
        data_window=result.data_window,
        settings=dataclasses.asdict(opts),
        now=now,
    )
    return TrainOutcome(manifest, result.report, target_dir)


def report_table(outcome: TrainOutcome) -> Table:
    """The evaluation as a Rich table: the model against both baselines on the test period."""
    report = outcome.report
    table = Table(
        title=f"View forecast at {outcome.manifest.settings.get('horizon_days', '?')} days "
        f"- test set of {report.n_test} videos (model {outcome.manifest.version})",
        caption="errors on log(1 + views); coverage = share of test videos inside the interval",
    )
    table.add_column("forecast")
    table.add_column("MAE (log)", justify="right")
    table.add_column("median APE %", justify="right")
    table.add_column("gain vs model", justify="right")
    rows: list[tuple[str, PointMetrics]] = [
        ("ensemble", report.model),
        ("channel median (same format)", report.baseline_channel_median),
        ("channel median x age curve", report.baseline_age_curve),
        ("channel median at horizon (model offset)", report.baseline_horizon_prior),
    ]
    for name, metrics in rows:
        gain = "" if metrics is report.model else f"{report.gain_over(metrics):+.1%}"
        table.add_row(name, f"{metrics.mae:.3f}", f"{metrics.median_ape:.2f}", gain)
    for interval in report.intervals:
        table.add_row(
            f"{interval.level:.0%} interval",
            f"width {interval.mean_width:.2f}",
            f"coverage {interval.coverage:.1%}",
            "",
        )
    return table
