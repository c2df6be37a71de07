"""A channel's key figures as every surface shows them: one row of the fleet KPI table, with its
"as of", a staleness flag and, for each figure that could not be computed, the reason.

The CLI (``analyze --json``, ``compare --json``), the REST API, the dashboard and the report all
build their figures here, from :func:`tubescope.analysis.summary.fleet_kpis` (or its DuckDB twins,
which give the same table). Each channel's window ends at its own last observation; a channel is
*stale* when that is :data:`STALE_AFTER_DAYS` or more before the reference time (the newest
observation in the warehouse, never the machine's clock). A stale channel's figures are still
its own, over its own window: they are flagged, never replaced by zeros.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from tubescope.analysis.features import JsonMixin

STALE_AFTER_DAYS = 2.0
"""A channel last observed this many days before the reference time is flagged as stale."""


@dataclass(frozen=True)
class KpiDefinition:
    """What a key figure is, in words, and how it is shown."""

    name: str
    label: str
    unit: str
    """``count``, ``percent`` (a fraction shown as %), ``per_week`` or ``ratio``."""
    definition: str


KPI_DEFINITIONS: tuple[KpiDefinition, ...] = (
    KpiDefinition(
        "subscriber_count", "Subscribers", "count", "latest public subscriber count (rounded by YouTube)"
    ),
    KpiDefinition("total_views", "Channel views", "count", "latest channel view count"),
    KpiDefinition("n_videos", "Videos observed", "count", "videos with at least one statistics snapshot"),
    KpiDefinition("median_views", "Median views per video", "count", "median of each video's latest views"),
    KpiDefinition(
        "views_per_subscriber", "Median views per subscriber", "ratio", "median views per video / subscribers"
    ),
    KpiDefinition(
        "engagement_median",
        "Median engagement rate",
        "percent",
        "median over videos of (likes + comments) / views; hidden likes excluded",
    ),
    KpiDefinition(
        "uploads_per_week_90d",
        "Uploads per week (90 days)",
        "per_week",
        "uploads in the 90 days to as-of / (90/7)",
    ),
    KpiDefinition(
        "subscriber_gain_28d",
        "Subscribers gained (28 days)",
        "count",
        "subscribers at as-of minus 28 days before",
    ),
    KpiDefinition(
        "subscriber_growth_28d",
        "Subscriber growth (28 days)",
        "percent",
        "subscriber gain / subscribers 28 days before",
    ),
    KpiDefinition(
        "view_gain_28d", "Views gained (28 days)", "count", "channel views at as-of minus 28 days before"
    ),
    KpiDefinition(
        "view_growth_28d", "View growth (28 days)", "percent", "view gain / channel views 28 days before"
    ),
)
KPI_NAMES: tuple[str, ...] = tuple(d.name for d in KPI_DEFINITIONS)


@dataclass(frozen=True)
class KpiFigure(JsonMixin):
    """One key figure: its value (None when it cannot be computed) and why it is missing."""

    name: str
    label: str
    unit: str
    value: float | None
    reason: str | None = None
    derived: bool = True


@dataclass(frozen=True)
class ChannelKpis(JsonMixin):
    """A channel's key figures as of its own last observation."""

    channel_id: str
    as_of: str | None
    """The window end: the channel's last observation (ISO-8601 UTC); None when never observed."""
    reference_as_of: str | None
    """The newest observation the staleness is judged against (the warehouse's, or the peers')."""
    stale: bool
    stale_days: float | None
    """Days between ``as_of`` and ``reference_as_of``."""
    figures: tuple[KpiFigure, ...]
    derived: bool = True

    def value(self, name: str) -> float | None:
        """The value of the figure called ``name`` (KeyError for an unknown name)."""
        return self.figure(name).value

    def figure(self, name: str) -> KpiFigure:
        """The figure called ``name`` (KeyError for an unknown name)."""
        for figure in self.figures:
            if figure.name == name:
                return figure
        raise KeyError(name)

    @property
    def values(self) -> dict[str, float | None]:
        """Every figure's value by name."""
        return {f.name: f.value for f in self.figures}

    @property
    def stale_note(self) -> str | None:
        """A sentence for readers when the channel is stale, else None."""
        if not self.stale or self.as_of is None:
            return None
        return (
            f"Last collected {self.as_of[:10]}, {self.stale_days:.0f} days before the newest data "
            f"({(self.reference_as_of or '')[:10]}): its figures end then; collect it again for current ones."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the figures, plus ``values`` and ``reasons`` keyed by name."""
        out = super().to_dict()
        out["values"] = self.values
        out["reasons"] = {f.name: f.reason for f in self.figures if f.reason}
        out["stale_note"] = self.stale_note
        return out


def _number(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _reason(name: str, row: Mapping[str, Any]) -> str:
    """Why ``name`` has no value in ``row`` (a fleet KPI row whose ``as_of`` is a timestamp or None)."""
    if row.get("as_of") is None:
        return "never observed: collect the channel first"
    no_videos = "no video statistics collected yet"
    has_videos = bool(_number(row, "n_videos"))
    if name in ("n_videos", "median_views") or (name == "views_per_subscriber" and not has_videos):
        return no_videos
    if name == "engagement_median":
        return "likes are hidden on every video, or no video has views yet" if has_videos else no_videos
    subscribers_hidden = _number(row, "subscriber_count") is None
    if name in ("subscriber_count", "views_per_subscriber") or (
        name.startswith("subscriber_") and subscribers_hidden
    ):
        return "the channel hides its subscriber count"
    if name == "total_views":
        return "no channel statistics collected yet"
    gain = "subscriber_gain_28d" if name.startswith("subscriber") else "view_gain_28d"
    if name.endswith("_growth_28d") and _number(row, gain) is not None:
        return "the count 28 days earlier was zero"
    return "less than 28 days of history before the as-of date: collect again later"


def _timestamp(value: Any) -> pd.Timestamp | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def channel_kpis_from_row(
    row: Mapping[str, Any], reference: datetime | pd.Timestamp | None = None
) -> ChannelKpis:
    """The :class:`ChannelKpis` of one fleet KPI table row, judged stale against ``reference``."""
    as_of = _timestamp(row.get("as_of"))
    ref = _timestamp(reference)
    if ref is None or (as_of is not None and ref < as_of):
        ref = as_of
    stale_days = None if as_of is None or ref is None else (ref - as_of).total_seconds() / 86400
    figures = []
    for definition in KPI_DEFINITIONS:
        value = _number(row, definition.name)
        if definition.name == "n_videos" and not value:
            value = None
        figures.append(
            KpiFigure(
                definition.name,
                definition.label,
                definition.unit,
                value,
                None if value is not None else _reason(definition.name, {**row, "as_of": as_of}),
            )
        )
    return ChannelKpis(
        channel_id=str(row.get("channel_id")),
        as_of=None if as_of is None else as_of.isoformat(),
        reference_as_of=None if ref is None else ref.isoformat(),
        stale=stale_days is not None and stale_days >= STALE_AFTER_DAYS,
        stale_days=stale_days,
        figures=tuple(figures),
    )


def channel_kpis_from_table(
    table: pd.DataFrame, channel_id: str, reference: datetime | pd.Timestamp | None = None
) -> ChannelKpis:
    """The :class:`ChannelKpis` of ``channel_id`` in a fleet KPI table (all None if absent)."""
    rows = table[table["channel_id"].astype(str) == channel_id]
    row: dict[str, Any] = (
        {str(k): v for k, v in rows.iloc[0].to_dict().items()} if len(rows) else {"channel_id": channel_id}
    )
    return channel_kpis_from_row(row, reference)


def format_kpi(value: float | None, unit: str) -> str:
    """A figure as people read it: ``12.3k``, ``4.1%``, ``1.2/wk``, ``0.85x``; None is an em dash."""
    if value is None or not math.isfinite(value):
        return "—"
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "per_week":
        return f"{value:.2f}/wk"
    if unit == "ratio":
        return f"{value:.3g}x"
    magnitude = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    return f"{int(value)}" if float(value).is_integer() else f"{value:.3g}"
