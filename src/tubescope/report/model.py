"""What a report shows, as plain frozen data: the renderers read only this.

The analysis results are mapped into a :class:`ReportModel` by :mod:`tubescope.report.adapter`;
the HTML page, the charts, the recommendations and the terminal summary are all functions of the
model alone, so they can be tested with models built by hand.

Every string that came from YouTube (titles, handles, tags) is carried verbatim here and escaped
by the renderer that outputs it. Metrics tubescope computes itself (rates, ratios, forecasts,
percentiles) carry ``derived=True`` so the report can label them as derived, not YouTube's own,
as the 2026 developer policies ask.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tubescope.analysis.kpis import ChannelKpis

WEEKDAY_NAMES: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Unit(StrEnum):
    """The unit a figure is shown in."""

    COUNT = "count"
    RATIO = "ratio"  # a multiplier such as 1.8x
    PERCENT = "percent"  # stored as a fraction: 0.034 means 3.4 %
    PER_WEEK = "per_week"
    DAYS = "days"
    SECONDS = "seconds"


class Confidence(StrEnum):
    """How far a finding can be trusted."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class ChannelHeader:
    """The channel's identity and headline counts at the top of the report."""

    channel_id: str
    title: str
    handle: str | None = None
    subscriber_count: int | None = None  # None when hidden
    view_count: int | None = None
    video_count: int | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class DataWindow:
    """The period the KPIs describe, the equal period before it, and where the numbers came from."""

    start: datetime
    end: datetime
    previous_start: datetime
    previous_end: datetime
    generated_at: datetime
    n_videos: int
    n_video_snapshots: int
    n_channel_snapshots: int
    sources: tuple[str, ...] = ()
    run_ids: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. a view-counting methodology change inside the window

    @property
    def days(self) -> float:
        """The length of the window in days."""
        return (self.end - self.start).total_seconds() / 86400.0


@dataclass(frozen=True)
class Kpi:
    """A key figure with its previous value, unit and definition."""

    key: str
    label: str
    value: float | None
    previous: float | None  # the same metric over the previous equal period
    unit: Unit = Unit.COUNT
    derived: bool = False
    higher_is_better: bool = True

    @property
    def delta(self) -> float | None:
        """The change from the previous value, or None when either is missing."""
        if not _finite(self.value) or not _finite(self.previous):
            return None
        assert self.value is not None and self.previous is not None
        return self.value - self.previous

    @property
    def delta_ratio(self) -> float | None:
        """Relative change (0.12 = +12 %); None when there is no positive previous value."""
        delta = self.delta
        if delta is None or self.previous is None or self.previous <= 0:
            return None
        return delta / self.previous


@dataclass(frozen=True)
class TimeSeries:
    """A labelled series of values over time."""

    label: str
    times: tuple[datetime, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        _same_length("TimeSeries", self.times, self.values)


@dataclass(frozen=True)
class ForecastBand:
    """A forecast's mean path and interval band."""

    times: tuple[datetime, ...]
    mean: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    level: float = 0.8  # central coverage of [lower, upper]
    method: str = ""
    measured_coverage: float | None = None
    """Share of held-out days such bands covered in backtests on real channels (None: not measured)."""

    def __post_init__(self) -> None:
        _same_length("ForecastBand", self.times, self.mean, self.lower, self.upper)


@dataclass(frozen=True)
class GrowthTrajectory:
    """A metric's observed history, forecast and change points."""

    metric: str  # "Subscribers", "Total views"
    observed: TimeSeries
    forecast: ForecastBand | None = None
    changepoints: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class VideoTrajectory:
    """One video's views by age, for the same-age chart."""

    video_id: str
    title: str
    age_days: tuple[float, ...]
    values: tuple[float, ...]
    percentile_now: float | None = None  # 0-100 among videos of the same age

    def __post_init__(self) -> None:
        _same_length("VideoTrajectory", self.age_days, self.values)


@dataclass(frozen=True)
class PercentileBands:
    """Views by age since publishing: the channel's own percentiles at each age."""

    metric: str
    age_days: tuple[float, ...]
    percentiles: tuple[int, ...]  # e.g. (10, 25, 50, 75, 90)
    bands: tuple[tuple[float, ...], ...]  # one row per percentile, aligned with age_days
    reference: str = "this channel's videos at the same age"
    highlights: tuple[VideoTrajectory, ...] = ()

    def __post_init__(self) -> None:
        if len(self.bands) != len(self.percentiles):
            raise ValueError("PercentileBands: one band per percentile")
        for band in self.bands:
            _same_length("PercentileBands", self.age_days, band)


@dataclass(frozen=True)
class FormatStat:
    """One video format's share of views, median views and engagement."""

    video_format: str  # "short" | "long" | "live"
    n_videos: int
    total_views: int
    median_views: float
    share_of_views: float  # fraction of the window's views
    median_engagement_rate: float | None = None  # derived: (likes + comments) / views
    median_views_ci: tuple[float, float] | None = None  # 95 % bootstrap interval of the median


@dataclass(frozen=True)
class TimeSlotEffect:
    """How uploads in one publish slot (a weekday, an hour band, or both) fare against a baseline."""

    weekday: int | None  # 0 = Monday; None: any day
    hour: int | None  # first hour (0-23, heatmap timezone) of the band; None: any hour
    lift: float  # the slot's median performance / the baseline's
    ci_low: float
    ci_high: float
    n: int
    video_format: str | None = None  # None: all formats
    ci_level: float = 0.95
    hours: int = 1  # width of the hour band
    baseline: str = "the channel's median views"
    p_value: float | None = None


@dataclass(frozen=True)
class PublishHeatmap:
    """Median performance by weekday and hour of publishing."""

    values: tuple[tuple[float | None, ...], ...]  # 7 weekdays x 24 hours; None: no uploads there
    counts: tuple[tuple[int, ...], ...]  # uploads per cell
    metric: str = "median views / channel median"
    timezone: str = "UTC"
    best_slots: tuple[TimeSlotEffect, ...] = ()

    def __post_init__(self) -> None:
        for name, matrix in (("values", self.values), ("counts", self.counts)):
            if len(matrix) != 7 or any(len(row) != 24 for row in matrix):
                raise ValueError(f"PublishHeatmap.{name} must be 7 weekdays x 24 hours")


@dataclass(frozen=True)
class EarlyPoint:
    """A new video's views at one early age: the dense sample watch mode stored for that age
    (``observed``), a figure interpolated between snapshots, or None with the reason."""

    age_label: str
    age_hours: float
    views: float | None
    source: str
    """``observed`` (a stored dense sample), ``interpolated`` or ``missing``."""
    note: str = ""
    """Why a missing point is missing."""


@dataclass(frozen=True)
class EarlyCurve:
    """A new video's first 72 hours: views at 1 h, 6 h, 24 h and 72 h."""

    video_id: str
    title: str
    channel_title: str
    published_at: datetime
    points: tuple[EarlyPoint, ...]

    @property
    def observed(self) -> int:
        """How many of its points are stored dense samples."""
        return sum(point.source == "observed" for point in self.points)


@dataclass(frozen=True)
class RaisedAlert:
    """An alert the watch raised about the channel or a peer, as stored."""

    fired_at: datetime
    rule: str
    channel_title: str
    video_id: str | None
    value: float | None
    message: str


@dataclass(frozen=True)
class OutlierRow:
    """A video that performed far above or below expectation."""

    video_id: str
    title: str
    published_at: datetime
    video_format: str
    views: int
    expected_views: float
    score: float  # robust z-score of log views against same-age, same-format peers

    @property
    def ratio(self) -> float | None:
        """Views over expected views, or None when nothing was expected."""
        return self.views / self.expected_views if self.expected_views > 0 else None

    @property
    def direction(self) -> str:
        """ "over" or "under" expectation."""
        return "over" if self.score >= 0 else "under"


@dataclass(frozen=True)
class CorrelationMatrix:
    """Rank correlations between video features and performance."""

    variables: tuple[str, ...]
    coefficients: tuple[tuple[float | None, ...], ...]
    p_values: tuple[tuple[float | None, ...], ...]
    n: int
    method: str = "spearman"
    p_adjustment: str = "none"  # e.g. "holm"
    targets: tuple[str, ...] = ()  # outcome variables; the rest are video features
    n_pairs: tuple[tuple[int | None, ...], ...] = ()
    """Videos each coefficient was computed on (pairwise complete); empty when unknown."""

    def pair_n(self, i: int, j: int) -> int:
        """The n behind coefficient (i, j): the videos that had both values."""
        if self.n_pairs and self.n_pairs[i][j] is not None:
            return int(self.n_pairs[i][j] or 0)
        return self.n

    def __post_init__(self) -> None:
        size = len(self.variables)
        for name, matrix in (("coefficients", self.coefficients), ("p_values", self.p_values)):
            if len(matrix) != size or any(len(row) != size for row in matrix):
                raise ValueError(f"CorrelationMatrix.{name} must be {size}x{size}")


@dataclass(frozen=True)
class AbResult:
    """One A/B comparison as the report shows it."""

    name: str  # "Question mark in title"
    metric: str  # "views at 7 days"
    group_a: str  # control label
    group_b: str  # treatment label
    n_a: int
    n_b: int
    estimate_a: float
    estimate_b: float
    effect: float  # effect size on the effect_scale (ratio b/a by default)
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float | None = None
    ci_level: float = 0.95
    method: str = ""
    effect_scale: str = "ratio"  # "ratio" (null = 1) or "difference" (null = 0)
    scope: str = ""  # the videos compared, e.g. "Shorts"; "" for all
    confounded_by: str | None = None
    """Set when the comparison cannot separate the effect from something else (video age)."""

    @property
    def null_effect(self) -> float:
        """The effect that means "no difference" (1 for ratios, 0 for differences)."""
        return 1.0 if self.effect_scale == "ratio" else 0.0

    @property
    def significant(self) -> bool:
        """Whether the (adjusted) p-value is below the significance level."""
        p = self.p_adjusted if self.p_adjusted is not None else self.p_value
        null = self.null_effect
        return p < 0.05 and not (self.ci_low <= null <= self.ci_high)


@dataclass(frozen=True)
class PeerChannel:
    """A channel in the peer comparison, and how current its data are."""

    channel_id: str
    title: str
    is_subject: bool = False
    as_of: str | None = None
    """The channel's last observation: where its figures end."""
    stale_note: str | None = None
    """Set when its collection stopped well before the newest data."""


@dataclass(frozen=True)
class PeerMetric:
    """One metric across the compared channels."""

    key: str
    label: str
    values: tuple[float | None, ...]  # aligned with PeerComparison.channels
    unit: Unit = Unit.COUNT
    derived: bool = False
    higher_is_better: bool = True
    subject_percentile: float | None = None  # 0-100 among the peers


@dataclass(frozen=True)
class PeerComparison:
    """The subject channel and its peers side by side."""

    channels: tuple[PeerChannel, ...]
    metrics: tuple[PeerMetric, ...]

    def __post_init__(self) -> None:
        if sum(channel.is_subject for channel in self.channels) != 1:
            raise ValueError("PeerComparison: exactly one channel is the subject")
        for metric in self.metrics:
            if len(metric.values) != len(self.channels):
                raise ValueError(f"PeerComparison: metric {metric.key!r} needs one value per channel")

    @property
    def subject_index(self) -> int:
        """The position of the subject channel among the channels."""
        return next(i for i, channel in enumerate(self.channels) if channel.is_subject)

    def subject_value(self, metric: PeerMetric) -> float | None:
        """The subject channel's value of ``metric``."""
        return metric.values[self.subject_index]

    def peer_values(self, metric: PeerMetric) -> list[float]:
        """The peers' values of ``metric`` (missing ones left out)."""
        subject = self.subject_index
        return [v for i, v in enumerate(metric.values) if i != subject and v is not None and math.isfinite(v)]

    def peer_median(self, metric: PeerMetric) -> float | None:
        """The median of the peers' values of ``metric``, or None without any."""
        values = sorted(self.peer_values(metric))
        if not values:
            return None
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


@dataclass(frozen=True)
class MethodNote:
    """A term the report uses and what it means."""

    term: str
    definition: str


@dataclass(frozen=True)
class Recommendation:
    """A recommendation in the creator's words, with its evidence and confidence."""

    headline: str  # the action
    evidence: str  # the numbers behind it
    confidence: Confidence
    topic: str  # "timing", "format", "ab", "correlation", "outliers", "growth", "peers"
    derived: bool = True


@dataclass(frozen=True)
class ReportModel:
    """Everything the report shows, computed before it is rendered."""

    header: ChannelHeader
    window: DataWindow
    kpis: tuple[Kpi, ...] = ()
    growth: tuple[GrowthTrajectory, ...] = ()
    percentile_bands: PercentileBands | None = None
    formats: tuple[FormatStat, ...] = ()
    heatmap: PublishHeatmap | None = None
    outliers: tuple[OutlierRow, ...] = ()
    correlation: CorrelationMatrix | None = None
    ab_tests: tuple[AbResult, ...] = ()
    peers: PeerComparison | None = None
    methods: tuple[MethodNote, ...] = ()
    warnings: tuple[str, ...] = field(default=())  # caveats shown at the top of the report
    ab_notes: tuple[str, ...] = ()  # how the A/B comparisons were run, shown beside them
    channel_kpis: ChannelKpis | None = None
    """The channel's key figures as every surface shows them (the CLI, REST API and dashboard too)."""
    early_curves: tuple[EarlyCurve, ...] = ()
    """New videos watched while young (the channel's and its peers'), newest first."""
    alerts: tuple[RaisedAlert, ...] = ()
    """Alerts raised about the channel and its peers, newest first."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO-8601, NaN/inf as None, tuples as lists."""
        result: dict[str, Any] = _plain(dataclasses.asdict(self))
        result["channel_kpis"] = None if self.channel_kpis is None else self.channel_kpis.to_dict()
        return result


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _same_length(owner: str, *sequences: tuple[object, ...]) -> None:
    if len({len(s) for s in sequences}) > 1:
        raise ValueError(f"{owner}: aligned sequences differ in length")
