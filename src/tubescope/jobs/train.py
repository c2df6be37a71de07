"""The train job: the warehouse in, a versioned view-forecast model and its evaluation out."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from rich.table import Table

from tubescope.analysis.frames import ChannelFrames
from tubescope.config import Settings, load_settings
from tubescope.errors import StorageError
from tubescope.jobs.common import open_for_writing, warehouse_target
from tubescope.predict.evaluate import Comparison, EvaluationReport, PointMetrics
from tubescope.predict.features import FEATURE_VERSION
from tubescope.predict.model import ForecastOptions, train_forecaster
from tubescope.warehouse.model_store import ModelManifest, save_model
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.shared_state import record_manifest
from tubescope.warehouse.target import WarehouseTarget

MODEL_KIND = "view-forecaster"
_log = structlog.get_logger("tubescope.jobs.train")


@dataclass(frozen=True)
class TrainOutcome:
    """A stored model's manifest, its evaluation and where it was saved."""

    manifest: ModelManifest
    report: EvaluationReport
    model_dir: Path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: version, data window, what is served and why, the full evaluation."""
        return {
            "model_dir": str(self.model_dir),
            "version": self.manifest.version,
            "feature_version": self.manifest.feature_version,
            "data_window": self.manifest.data_window,
            "served": self.report.served,
            "skill": self.report.skill.statement,
            "evaluation": self.report.to_dict(),
            "gain_over_channel_median": self.report.gain_over(self.report.baseline_channel_median),
            "gain_over_age_curve": self.report.gain_over(self.report.baseline_age_curve),
        }


def load_warehouse_frames(
    db_path: WarehouseTarget, channel_ids: Sequence[str] | None = None
) -> ChannelFrames:
    """The frames of the warehouse at ``db_path`` (all channels, or ``channel_ids``), read-only."""
    if isinstance(db_path, Path) and not db_path.is_file():
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
    db_path: WarehouseTarget | str | None = None,
    model_dir: Path | None = None,
    horizon_days: float = 7.0,
    options: ForecastOptions | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    frames: ChannelFrames | None = None,
) -> TrainOutcome:
    """Train on everything in the warehouse (time-based split) and store the model as a new version.

    ``frames``: the warehouse's frames when the caller has read them already (a job inside the
    service reads through the service's open connection).
    """
    cfg = settings or load_settings(db_path=db_path, model_dir=model_dir)
    db = warehouse_target(db_path, cfg)
    target_dir = model_dir or cfg.model_dir
    opts = options or ForecastOptions(horizon_days=horizon_days)
    frames = frames if frames is not None else load_warehouse_frames(db)
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
    _record_manifest(db, manifest)
    return TrainOutcome(manifest, result.report, target_dir)


def _record_manifest(target: WarehouseTarget, manifest: ModelManifest) -> None:
    """Note the saved model in the warehouse, so every replica on it knows the latest model; the
    model file stays in the model folder, and a warehouse that cannot be written is no reason
    to lose a trained model."""
    try:
        with open_for_writing(target) as warehouse:
            record_manifest(warehouse, manifest.to_dict(), saved_at=datetime.now(UTC))
    except StorageError as exc:
        _log.warning("model_manifest_not_recorded", version=manifest.version, error=str(exc))


def _mae(metrics: PointMetrics) -> str:
    if metrics.mae_low is None or metrics.mae_high is None:
        return f"{metrics.mae:.3f}"
    return f"{metrics.mae:.3f} [{metrics.mae_low:.3f}, {metrics.mae_high:.3f}]"


def _difference(comparison: Comparison | None) -> str:
    if comparison is None:
        return ""
    return f"{comparison.difference:+.3f} [{comparison.low:+.3f}, {comparison.high:+.3f}]"


def report_table(outcome: TrainOutcome) -> Table:
    """The evaluation as a Rich table: served forecast, ensemble and baselines over the rolling
    origins, the paired difference with the best baseline, interval coverage, and what is served."""
    report = outcome.report
    windows = len(report.windows)
    table = Table(
        title=f"View forecast at {outcome.manifest.settings.get('horizon_days', '?')} days - "
        f"{report.n_test} videos in {windows} rolling-origin windows (model {outcome.manifest.version})",
        caption="errors on log(1 + views), [95% CI] by a paired bootstrap over channels; "
        f"coverage = share of scored videos inside the interval.\nServed: {report.served}. "
        f"{report.skill.statement}",
    )
    table.add_column("forecast")
    table.add_column("MAE (log) [CI]", justify="right")
    table.add_column("minus best baseline [CI]", justify="right")
    rows: list[tuple[str, PointMetrics, Comparison | None]] = [
        ("served forecast", report.model, report.served_vs_best),
        ("ensemble", report.ensemble, None),
        ("channel median (same format)", report.baseline_channel_median, None),
        ("channel median x age curve", report.baseline_age_curve, None),
    ]
    for name, metrics, comparison in rows:
        table.add_row(name, _mae(metrics), _difference(comparison))
    for interval in report.intervals:
        ci = (
            ""
            if interval.coverage_low is None or interval.coverage_high is None
            else f" [{interval.coverage_low:.1%}, {interval.coverage_high:.1%}]"
        )
        table.add_row(
            f"{interval.level:.0%} interval",
            f"width {interval.mean_width:.2f}",
            f"coverage {interval.coverage:.1%}{ci}",
        )
    return table
