"""The predict job: a planned video in, its view forecast at the model's horizon out.

:class:`Predictor` keeps a loaded model warm (the service holds one; the CLI makes one per call)
so a forecast costs only a feature lookup and three tree ensembles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from rich.table import Table

from tubescope.config import Settings, load_settings
from tubescope.domain.durations import parse_duration_seconds
from tubescope.domain.refs import RefKind, parse_channel_ref
from tubescope.errors import ChannelNotFound, ConfigError, InvalidChannelRef, ModelError
from tubescope.jobs.common import warehouse_target
from tubescope.jobs.train import MODEL_KIND, load_warehouse_frames
from tubescope.predict.features import FEATURE_VERSION, VideoRows
from tubescope.predict.model import Forecast, ViewForecaster
from tubescope.warehouse.model_store import ModelManifest, load_model
from tubescope.warehouse.target import WarehouseTarget


@dataclass(frozen=True)
class PlannedVideo:
    """What the user knows about a video before publishing it."""

    channel: str
    """``UC…`` id or ``@handle``."""
    title: str
    duration_seconds: float | None
    published_at: datetime
    short: bool = False
    tags: tuple[str, ...] = ()
    category_id: str | None = None


def parse_duration(text: str) -> float:
    """Seconds from ``630``, ``10:30``, ``1:02:03`` or ISO-8601 ``PT10M30S``."""
    raw = text.strip()
    try:
        if raw.upper().startswith("P"):
            seconds = parse_duration_seconds(raw)
            if seconds is None:
                raise ValueError(raw)
            return float(seconds)
        parts = [float(p) for p in raw.split(":")]
        if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts):
            raise ValueError(raw)
        total = 0.0
        for part in parts:
            total = total * 60 + part
        if total <= 0:
            raise ValueError(raw)
        return total
    except (ValueError, TypeError):
        raise ConfigError(
            f"invalid duration {text!r}: use seconds (630), mm:ss (10:30) or PT10M30S"
        ) from None


def parse_publish_time(text: str) -> datetime:
    """ISO-8601; a time without an offset is taken as UTC."""
    try:
        stamp = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        raise ConfigError(f"invalid publish time {text!r}: use ISO-8601 such as 2026-03-01T17:00Z") from None
    if pd.isna(stamp):
        raise ConfigError(f"invalid publish time {text!r}")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


class Predictor:
    """A loaded model, ready to forecast; reuse it to keep predictions fast."""

    def __init__(self, forecaster: ViewForecaster, manifest: ModelManifest) -> None:
        self.forecaster = forecaster
        self.manifest = manifest

    @classmethod
    def load(cls, model_dir: Path, *, version: str | None = None) -> Predictor:
        """The latest (or ``version``) stored view forecaster, refusing other feature versions."""
        loaded = load_model(model_dir, feature_version=FEATURE_VERSION, kind=MODEL_KIND, version=version)
        if not isinstance(loaded.model, ViewForecaster):
            raise ModelError(f"{loaded.path}: not a view forecaster")
        return cls(loaded.model, loaded.manifest)

    def refreshed(self, db_path: WarehouseTarget, channel_ids: Sequence[str] | None = None) -> Predictor:
        """The same model with channel priors recomputed from the warehouse's current data
        (of ``channel_ids`` only, when given: enough to forecast for those channels)."""
        frames = load_warehouse_frames(db_path, channel_ids)
        return Predictor(self.forecaster.with_history(frames), self.manifest)

    def resolve_channel(self, ref: str) -> str:
        """The channel id of a ``UC…`` id or ``@handle`` known to the model."""
        parsed = parse_channel_ref(ref)
        if parsed.kind is RefKind.CHANNEL_ID:
            channel_id = parsed.value
        elif parsed.kind is RefKind.HANDLE:
            found = self.forecaster.channel_handles.get(parsed.value.lower())
            if found is None:
                raise ChannelNotFound(
                    f"no channel with handle {parsed.value} in the model's data; collect it first"
                )
            channel_id = found
        else:
            raise InvalidChannelRef(
                ref, "predict needs a UC… channel id or an @handle of a collected channel"
            )
        if not self.forecaster.knows_channel(channel_id):
            raise ChannelNotFound(f"channel {channel_id} is not in the model's data; collect it and retrain")
        return channel_id

    def predict(self, video: PlannedVideo, *, horizon_days: float | None = None, top_k: int = 5) -> Forecast:
        """Forecast one planned video at the model's horizon."""
        model_horizon = self.forecaster.options.horizon_days
        if horizon_days is not None and abs(horizon_days - model_horizon) > 1e-9:
            raise ModelError(
                f"the model forecasts views at {model_horizon:g} days, not {horizon_days:g}; "
                f"train one with `tubescope train --horizon {horizon_days:g}d`"
            )
        if not video.title.strip():
            raise ConfigError("the title must not be empty")
        if video.published_at.tzinfo is None or video.published_at.utcoffset() is None:
            raise ConfigError("published_at must be timezone-aware (UTC)")
        if video.duration_seconds is not None and not video.duration_seconds > 0:
            raise ConfigError(f"duration must be positive, got {video.duration_seconds}")
        channel_id = self.resolve_channel(video.channel)
        # Plain columns, not a one-row frame: building a DataFrame cost more than the trees.
        row = VideoRows.single(
            channel_id=channel_id,
            title=video.title,
            published_at=video.published_at,
            video_format="short" if video.short else "long",
            duration_seconds=video.duration_seconds,
            tag_count=len(video.tags),
            category_id=video.category_id,
        )
        return self.forecaster.forecast_rows(row, top_k=top_k)[0]


def predict(
    video: PlannedVideo,
    *,
    horizon_days: float | None = None,
    db_path: WarehouseTarget | str | None = None,
    model_dir: Path | None = None,
    settings: Settings | None = None,
) -> Forecast:
    """Forecast one planned video with the latest stored model.

    When a warehouse exists at ``db_path`` (or the configured one), the channel priors come from
    its current data; otherwise from the data the model was trained on.
    """
    cfg = settings or load_settings(db_path=db_path, model_dir=model_dir)
    predictor = Predictor.load(model_dir or cfg.model_dir)
    db = warehouse_target(db_path, cfg)
    if not isinstance(db, Path) or db.is_file():
        try:
            channel_ids: list[str] | None = [predictor.resolve_channel(video.channel)]
        except ChannelNotFound:
            channel_ids = None  # collected after training: look for it in the whole warehouse
        predictor = predictor.refreshed(db, channel_ids)
    elif db_path is not None:
        raise ConfigError(f"no warehouse at {db_path}")
    return predictor.predict(video, horizon_days=horizon_days)


def forecast_table(forecast: Forecast, tags: Sequence[str] = ()) -> Table:
    """The forecast as a Rich table, with what served it and the measured coverage."""
    table = Table(title=f"{forecast.title!r}: views at {forecast.horizon_days:g} days", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("expected views", f"{forecast.expected_views:,.0f}")
    for interval in forecast.intervals:
        measured = (
            ""
            if interval.measured_coverage is None
            else f" (held {interval.measured_coverage:.0%} in backtests)"
        )
        table.add_row(
            f"{interval.level:.0%} interval", f"{interval.low:,.0f} - {interval.high:,.0f}{measured}"
        )
    median = forecast.channel_median_views
    table.add_row("channel median (same format)", "unknown" if median is None else f"{median:,.0f}")
    ratio = "" if forecast.ratio_to_median is None else f" ({forecast.ratio_to_median:.2f}x median)"
    table.add_row("category", f"{forecast.category.value}{ratio}")
    for item in forecast.top_contributions:
        value = "n/a" if item.value is None else f"{item.value:.3g}"
        table.add_row(f"  {item.feature} = {value}", f"x{item.factor:.2f}")
    table.add_row("served by", forecast.served_by.replace("_", " "))
    if forecast.skill:
        table.caption = forecast.skill
    return table
