"""A/B comparisons of two groups of a channel's videos.

The groups come from the filter language of :mod:`tubescope.analysis.query` (or a boolean mask,
for features computed elsewhere). Views are heavy-tailed, so the tests work on ``log1p(views)``:

* Welch's t-test on log views, its confidence interval turned into a multiplicative *lift*
  (the ratio of geometric means, ``exp(mean log a - mean log b)``), and Cohen's d;
* Mann-Whitney U on the raw views (no distributional assumption; a cross-check);
* a bootstrap confidence interval for the ratio of median views (seeded generator);
* the power the test had for the observed effect, and the smallest lift it could detect with 80%
  power at these group sizes (``statsmodels.stats.power``).

Views are compared at the same age (interpolated from snapshots at 7 days) when the snapshots
allow it, else as the latest counts, which favour older videos; the result says which. Formats are
compared apart (Shorts and long videos live on different scales) unless the test is about format.
Groups smaller than ``min_group_size`` give a typed "insufficient data" comparison, not an error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.power import TTestIndPower

from tubescope.analysis.features import epoch_ns, id_positions, require_aware, require_columns
from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.query import Query, parse_query
from tubescope.analysis.resample import bootstrap_medians
from tubescope.errors import ConfigError, InvalidQuery

FORMAT_ORDER: Final = ("short", "long", "live")
_MAX_EFFECT: Final = 5.0
"""Cohen's d beyond which a minimum detectable effect is not worth reporting."""
ALL_FORMATS: Final = "all formats"

FloatArray = npt.NDArray[np.float64]


class Metric(StrEnum):
    """Which view count an A/B comparison compares: views at a fixed age, or the latest views."""

    VIEWS_AT_AGE = "views_at_age"
    LATEST_VIEWS = "latest_views"


@dataclass(frozen=True)
class AbTestOptions:
    """How an A/B comparison is run; defaults suit a single channel's catalogue."""

    confidence: float = 0.95
    n_bootstrap: int = 2000
    min_group_size: int = 5
    same_age_days: float = 7.0
    same_age_tolerance_days: float = 2.0
    """How far from the target age the snapshots bracketing it may be (each side)."""
    min_same_age_group: int = 10
    """Compare same-age views only when each group has at least this many videos with them."""
    target_power: float = 0.8

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"confidence must be in [0.5, 1), not {self.confidence}")
        if self.n_bootstrap < 100:
            raise ConfigError(f"n_bootstrap must be at least 100, not {self.n_bootstrap}")
        if self.min_group_size < 2:
            raise ConfigError(f"min_group_size must be at least 2, not {self.min_group_size}")

    @property
    def alpha(self) -> float:
        """The significance level: one minus the confidence."""
        return 1.0 - self.confidence


@dataclass(frozen=True)
class GroupSummary:
    """One group's size and central view counts in an A/B comparison."""

    label: str
    n: int
    median_views: float | None
    geometric_mean_views: float | None
    """``exp(mean(log1p(views))) - 1``: the typical video of the group."""


@dataclass(frozen=True)
class AbStatistics:
    """Test statistics, effect sizes and their intervals for one A/B comparison."""

    welch_t: float
    welch_df: float
    welch_p: float
    mann_whitney_u: float
    mann_whitney_p: float
    cohens_d: float
    """Standardised difference of mean log views (A minus B)."""
    lift: float
    """Ratio of geometric means of (1 + views), A over B: the multiplicative effect."""
    lift_ci_low: float
    lift_ci_high: float
    median_ratio: float | None
    median_ratio_ci_low: float | None
    median_ratio_ci_high: float | None
    achieved_power: float
    minimum_detectable_lift: float | None
    """Smallest lift (>1) detectable with ``target_power`` at these group sizes."""
    significant: bool


@dataclass(frozen=True)
class AbComparison:
    """The comparison of two groups within one stratum, with its status and verdict."""

    stratum: str
    """"short", "long", "live", or "all formats" when the test is about format."""
    group_a: GroupSummary
    group_b: GroupSummary
    status: Literal["ok", "insufficient_data"]
    statistics: AbStatistics | None
    verdict: str


@dataclass(frozen=True)
class AbTestResult:
    """An A/B test over all strata: its groups, comparisons, exclusions and notes."""

    group_a: str
    group_b: str
    metric: Metric
    metric_description: str
    confidence: float
    comparisons: tuple[AbComparison, ...]
    excluded_in_both: int
    """Videos matching both filters, left out of both groups."""
    notes: tuple[str, ...] = field(default=())

    @property
    def headline(self) -> AbComparison | None:
        """The usable comparison with the most data (None when every stratum is too small)."""
        usable = [c for c in self.comparisons if c.status == "ok"]
        if not usable:
            return None
        return max(usable, key=lambda c: (min(c.group_a.n, c.group_b.n), c.group_a.n + c.group_b.n))

    @property
    def verdict(self) -> str:
        """A one-sentence verdict for the whole test, in plain words."""
        headline = self.headline
        if headline is not None:
            return headline.verdict
        if self.comparisons:
            return " ".join(c.verdict for c in self.comparisons)
        return f"No videos to compare for {self.group_a!r} vs {self.group_b!r}."

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-safe dictionary, verdict included."""
        data = json_safe(self)
        assert isinstance(data, dict)
        headline = self.headline
        data["headline_stratum"] = headline.stratum if headline else None
        data["verdict"] = self.verdict
        return data


def json_safe(value: Any) -> Any:
    """Dataclasses, enums, numpy scalars and NaN made JSON-serialisable (NaN/inf become None)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | int):
        return int(value)
    if isinstance(value, np.floating | float):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------------------------
# Views at a fixed age


def views_at_age(
    videos: pd.DataFrame,
    video_snapshots: pd.DataFrame,
    *,
    age_days: float = 7.0,
    tolerance_days: float = 2.0,
) -> pd.Series:
    """Views each video had ``age_days`` after publication, interpolated between snapshots.

    A value needs snapshots on both sides of the target age, each within ``tolerance_days`` (or
    one within an hour of it); otherwise it is NaN. The result is aligned with ``videos.index``.
    """
    result = pd.Series(np.nan, index=videos.index, dtype="float64")
    if video_snapshots.empty or videos.empty:
        return result
    # Videos as integer positions (first occurrence of each id), matched by Arrow's hash kernel.
    row_video = id_positions(videos["video_id"], videos["video_id"])
    published_ns = epoch_ns(videos["published_at"])
    snap_video = id_positions(video_snapshots["video_id"], videos["video_id"])
    views = pd.to_numeric(video_snapshots["view_count"], errors="coerce").to_numpy(dtype="float64")
    dated = pd.to_datetime(videos["published_at"], utc=True).notna().to_numpy()
    observed = pd.to_datetime(video_snapshots["observed_at"], utc=True)
    keep = (snap_video >= 0) & ~np.isnan(views) & observed.notna().to_numpy()
    keep[keep] &= dated[snap_video[keep]]
    if not keep.any():
        return result
    snap_video, views = snap_video[keep], views[keep]
    age = (epoch_ns(observed)[keep] - published_ns[snap_video]) / 1e9 / 86_400.0
    order = np.lexsort((age, snap_video))
    snap_video, age, views = snap_video[order], age[order], views[order]
    n = len(videos)
    age_before, views_before = np.full(n, np.nan), np.full(n, np.nan)
    age_after, views_after = np.full(n, np.nan), np.full(n, np.nan)
    # The last snapshot at or before the target age, and the first at or after it, per video.
    before = np.flatnonzero(age <= age_days)
    if before.size:
        last = before[np.append(snap_video[before][1:] != snap_video[before][:-1], True)]
        age_before[snap_video[last]], views_before[snap_video[last]] = age[last], views[last]
    after = np.flatnonzero(age >= age_days)
    if after.size:
        first = after[np.insert(snap_video[after][1:] != snap_video[after][:-1], 0, True)]
        age_after[snap_video[first]], views_after[snap_video[first]] = age[first], views[first]
    exact_hour = 1.0 / 24.0
    with np.errstate(invalid="ignore"):
        near_before = (age_days - age_before) <= exact_hour
        near_after = (age_after - age_days) <= exact_hour
        bracketed = ((age_days - age_before) <= tolerance_days) & ((age_after - age_days) <= tolerance_days)
        span = age_after - age_before
        weight = np.divide(age_days - age_before, span, out=np.zeros_like(span), where=span > 0)
    value = np.where(bracketed, views_before + weight * (views_after - views_before), np.nan)
    value = np.where(near_after & np.isnan(value), views_after, value)
    value = np.where(near_before & np.isnan(value), views_before, value)
    mapped = np.where(row_video >= 0, value[np.maximum(row_video, 0)], np.nan)
    return pd.Series(mapped, index=videos.index, dtype="float64")


def same_age_views(frames: ChannelFrames, options: AbTestOptions | None = None) -> pd.Series:
    """The views at the comparison age that :func:`run_ab_test` compares (:func:`views_at_age`
    at ``options``' age and tolerance), aligned with ``frames.videos``."""
    options = options or AbTestOptions()
    return views_at_age(
        frames.videos,
        frames.video_snapshots,
        age_days=options.same_age_days,
        tolerance_days=options.same_age_tolerance_days,
    )


# ---------------------------------------------------------------------------------------------
# The statistics of two samples


def _format_p(p: float) -> str:
    if p < 0.001:
        return "p<0.001"
    if p < 0.01:
        return f"p={p:.3f}"
    return f"p={p:.2f}"


def _percent(alpha: float) -> str:
    return f"{alpha * 100:g}%"


def _summary(label: str, views: FloatArray) -> GroupSummary:
    if views.size == 0:
        return GroupSummary(label, 0, None, None)
    return GroupSummary(
        label,
        int(views.size),
        float(np.median(views)),
        float(np.expm1(np.mean(np.log1p(views)))),
    )


def _bootstrap_median_ratio(
    views_a: FloatArray, views_b: FloatArray, rng: np.random.Generator, options: AbTestOptions
) -> tuple[float | None, float | None, float | None]:
    median_b = float(np.median(views_b))
    if median_b <= 0:
        return None, None, None
    point = float(np.median(views_a)) / median_b
    # Exact bootstrap draws of each median (sorted resampling): O(n log n + B), not B x n.
    med_a = bootstrap_medians(views_a, options.n_bootstrap, rng)
    med_b = bootstrap_medians(views_b, options.n_bootstrap, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(med_b > 0, med_a / med_b, np.inf)
    tail = options.alpha / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return (
        point,
        float(low) if math.isfinite(low) else None,
        float(high) if math.isfinite(high) else None,
    )


def compare_views(
    views_a: npt.ArrayLike,
    views_b: npt.ArrayLike,
    *,
    rng: np.random.Generator | int,
    options: AbTestOptions | None = None,
    label_a: str = "group A",
    label_b: str = "group B",
    stratum: str = ALL_FORMATS,
    metric: Metric = Metric.LATEST_VIEWS,
) -> AbComparison:
    """Compare two samples of view counts (NaN and negative values are dropped)."""
    options = options or AbTestOptions()
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    a = np.asarray(views_a, dtype="float64")
    b = np.asarray(views_b, dtype="float64")
    a = a[np.isfinite(a) & (a >= 0)]
    b = b[np.isfinite(b) & (b >= 0)]
    summary_a, summary_b = _summary(label_a, a), _summary(label_b, b)
    prefix = "" if stratum == ALL_FORMATS else f"{stratum.capitalize()} videos: "
    if min(a.size, b.size) < options.min_group_size:
        verdict = (
            f"{prefix}Not enough videos to compare: n={a.size} vs {b.size} "
            f"(need at least {options.min_group_size} in each group)."
        )
        return AbComparison(stratum, summary_a, summary_b, "insufficient_data", None, verdict)
    log_a, log_b = np.log1p(a), np.log1p(b)
    var_a, var_b = float(np.var(log_a, ddof=1)), float(np.var(log_b, ddof=1))
    if var_a == 0 and var_b == 0:
        verdict = f"{prefix}Not enough variation to compare: every video in each group has the same views."
        return AbComparison(stratum, summary_a, summary_b, "insufficient_data", None, verdict)
    n_a, n_b = a.size, b.size
    difference = float(np.mean(log_a) - np.mean(log_b))
    welch = stats.ttest_ind(log_a, log_b, equal_var=False)
    welch_t, welch_df, welch_p = float(welch.statistic), float(welch.df), float(welch.pvalue)
    interval = welch.confidence_interval(confidence_level=options.confidence)
    pooled_sd = math.sqrt(((n_a - 1) * var_a + (n_b - 1) * var_b) / (n_a + n_b - 2))
    cohens_d = difference / pooled_sd
    mwu = stats.mannwhitneyu(a, b, alternative="two-sided")
    median_ratio, median_low, median_high = _bootstrap_median_ratio(a, b, generator, options)
    achieved_power, minimum_detectable_lift = _power(cohens_d, n_a, n_b, pooled_sd, options)
    statistics = AbStatistics(
        welch_t=welch_t,
        welch_df=welch_df,
        welch_p=welch_p,
        mann_whitney_u=float(mwu.statistic),
        mann_whitney_p=float(mwu.pvalue),
        cohens_d=cohens_d,
        lift=math.exp(difference),
        lift_ci_low=math.exp(float(interval.low)),
        lift_ci_high=math.exp(float(interval.high)),
        median_ratio=median_ratio,
        median_ratio_ci_low=median_low,
        median_ratio_ci_high=median_high,
        achieved_power=achieved_power,
        minimum_detectable_lift=minimum_detectable_lift,
        significant=welch_p < options.alpha,
    )
    verdict = prefix + _verdict(statistics, summary_a, summary_b, options, metric)
    return AbComparison(stratum, summary_a, summary_b, "ok", statistics, verdict)


def _power(
    cohens_d: float, n_a: int, n_b: int, pooled_sd: float, options: AbTestOptions
) -> tuple[float, float | None]:
    """Power for the observed effect, and the smallest lift detectable with the target power."""
    analysis = TTestIndPower()
    with warnings.catch_warnings():
        # scipy warns from deep inside the noncentral t for extreme inputs; results are checked.
        warnings.simplefilter("ignore")
        achieved = _scalar(
            analysis.power(effect_size=abs(cohens_d), nobs1=n_a, alpha=options.alpha, ratio=n_b / n_a)
        )

        def shortfall(effect: float) -> float:
            power = _scalar(
                analysis.power(effect_size=effect, nobs1=n_a, alpha=options.alpha, ratio=n_b / n_a)
            )
            # The noncentral t underflows to NaN for huge effects, where power is 1 in fact.
            return (power if math.isfinite(power) else 1.0) - options.target_power

        # statsmodels' solve_power searches its bracket with over a hundred power evaluations;
        # power grows with the effect, so a plain bracketed root needs about a dozen.
        if shortfall(_MAX_EFFECT) < 0:
            return achieved, None
        mde_d = float(optimize.brentq(shortfall, 1e-6, _MAX_EFFECT, xtol=1e-6))
    if not math.isfinite(mde_d) or mde_d <= 0:
        return achieved, None
    return achieved, math.exp(mde_d * pooled_sd)


def _scalar(value: Any) -> float:
    return float(np.asarray(value, dtype="float64").reshape(-1)[0])


def _verdict(
    s: AbStatistics, a: GroupSummary, b: GroupSummary, options: AbTestOptions, metric: Metric
) -> str:
    what = "the views at age 7 days" if metric is Metric.VIEWS_AT_AGE else "the views"
    level = f"{options.confidence * 100:g}% CI {s.lift_ci_low:.2f}-{s.lift_ci_high:.2f}"
    sizes = f"n={a.n} vs {b.n}"
    if s.significant:
        return (
            f"{_subject(a.label)} get {s.lift:.2f}x {what} of {_object(b.label)} ({level}, {sizes}); "
            f"significant at {_percent(options.alpha)} (Welch {_format_p(s.welch_p)})."
        )
    detectable = (
        f"; only a lift beyond about {s.minimum_detectable_lift:.2f}x "
        f"would be detected reliably at these group sizes"
        if s.minimum_detectable_lift is not None
        else ""
    )
    return (
        f"No reliable difference between {_object(a.label)} and {_object(b.label)}: "
        f"{s.lift:.2f}x {what} ({level}, {sizes}); not significant at {_percent(options.alpha)} "
        f"(Welch {_format_p(s.welch_p)}){detectable}."
    )


def _subject(label: str) -> str:
    return f"Videos where {label}"


def _object(label: str) -> str:
    if label == "the rest":
        return "the rest"
    return f"videos where {label}"


# ---------------------------------------------------------------------------------------------
# Groups from filters


GroupSpec = str | Query | pd.Series


def _resolve(spec: GroupSpec, videos: pd.DataFrame) -> tuple[str, pd.Series, frozenset[str]]:
    if isinstance(spec, pd.Series):
        if not spec.index.equals(videos.index):
            raise InvalidQuery("a group mask must be aligned with the videos frame's index")
        label = str(spec.name) if spec.name is not None else "the feature holds"
        return label, spec.fillna(False).astype(bool), frozenset({label})
    query = spec if isinstance(spec, Query) else parse_query(spec)
    return str(query), query.mask(videos), query.fields


def run_ab_test(
    frames: ChannelFrames,
    group_a: GroupSpec,
    group_b: GroupSpec | None = None,
    *,
    now: datetime,
    rng: np.random.Generator | int = 0,
    options: AbTestOptions | None = None,
    at_age: pd.Series | None = None,
) -> AbTestResult:
    """Compare the views of videos matching ``group_a`` with ``group_b`` (default: the rest).

    ``group_a``/``group_b`` are filter expressions (see :mod:`tubescope.analysis.query`), parsed
    queries or boolean masks aligned with ``frames.videos``. ``now`` is the analysis clock: videos
    younger than the comparison age are left out. Raises :class:`~tubescope.errors.InvalidQuery`
    for an invalid filter; small groups give an "insufficient data" comparison instead.

    ``at_age``: :func:`same_age_views` of these frames and options, when the caller runs several
    comparisons of one channel (each would otherwise interpolate every snapshot again).
    """
    options = options or AbTestOptions()
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    videos = frames.videos
    require_columns(videos, "videos", ("video_id", "published_at", "video_format", "view_count"))
    if not frames.video_snapshots.empty:
        require_columns(frames.video_snapshots, "video_snapshots", ("video_id", "observed_at", "view_count"))
    label_a, mask_a, fields_a = _resolve(group_a, videos)
    if group_b is None:
        label_b, mask_b, fields_b = "the rest", ~mask_a, frozenset[str]()
    else:
        label_b, mask_b, fields_b = _resolve(group_b, videos)
    overlap = mask_a & mask_b
    notes: list[str] = []
    if overlap.any():
        notes.append(f"{int(overlap.sum())} videos match both groups and were left out of both.")
    mask_a, mask_b = mask_a & ~overlap, mask_b & ~overlap

    published = pd.to_datetime(videos["published_at"], utc=True)
    cutoff = require_aware(now) - pd.Timedelta(days=options.same_age_days)
    eligible = (published <= cutoff).to_numpy(dtype=bool)
    if "is_deleted" in videos.columns:
        eligible = eligible & ~videos["is_deleted"].fillna(False).astype(bool).to_numpy()
    young = int(((mask_a | mask_b).to_numpy(dtype=bool) & ~(published <= cutoff).to_numpy(dtype=bool)).sum())
    if young:
        notes.append(f"{young} videos younger than {options.same_age_days:g} days were left out.")

    latest = pd.to_numeric(videos["view_count"], errors="coerce").astype("float64")
    if at_age is None:
        at_age = same_age_views(frames, options)
    elif not at_age.index.equals(videos.index):
        raise InvalidQuery("at_age must be aligned with the videos frame's index")
    in_a = mask_a.to_numpy(dtype=bool) & eligible
    in_b = mask_b.to_numpy(dtype=bool) & eligible
    has_age = at_age.notna().to_numpy()
    if min(int((in_a & has_age).sum()), int((in_b & has_age).sum())) >= options.min_same_age_group:
        metric, values = Metric.VIEWS_AT_AGE, at_age
        description = f"views at age {options.same_age_days:g} days, interpolated from snapshots"
        dropped = int(((in_a | in_b) & ~has_age).sum())
        if dropped:
            notes.append(
                f"{dropped} videos without snapshots around age {options.same_age_days:g} days were left out."
            )
    else:
        metric, values = Metric.LATEST_VIEWS, latest
        description = (
            "latest views (too few snapshots for same-age views; older videos had longer to gather views)"
        )

    about_format = "format" in fields_a or "format" in fields_b
    formats = videos["video_format"].astype("string").fillna("unknown").str.lower().to_numpy()
    if about_format:
        strata: list[tuple[str, npt.NDArray[np.bool_]]] = [(ALL_FORMATS, np.ones(len(videos), dtype=bool))]
    else:
        present = [f for f in FORMAT_ORDER if ((formats == f) & (in_a | in_b)).any()]
        strata = [(f, formats == f) for f in present]
        others = ~np.isin(formats, FORMAT_ORDER) & (in_a | in_b)
        if others.any():
            notes.append(f"{int(others.sum())} videos of unknown format were left out.")
    numbers = values.to_numpy(dtype="float64")
    comparisons = tuple(
        compare_views(
            numbers[in_a & stratum_mask],
            numbers[in_b & stratum_mask],
            rng=generator,
            options=options,
            label_a=label_a,
            label_b=label_b,
            stratum=name,
            metric=metric,
        )
        for name, stratum_mask in strata
    )
    if not about_format and len(comparisons) > 1:
        notes.append("Formats were compared separately; the headline is the format with the most data.")
    return AbTestResult(
        group_a=label_a,
        group_b=label_b,
        metric=metric,
        metric_description=description,
        confidence=options.confidence,
        comparisons=comparisons,
        excluded_in_both=int(overlap.sum()),
        notes=tuple(notes),
    )
