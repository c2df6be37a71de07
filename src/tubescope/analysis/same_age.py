"""Same-age performance: views at 24 h / 7 d / 28 d, percentile bands and an outlier score.

Lifetime views favour old videos; comparing every video at the same age removes that bias.
Views at age *a* are linearly interpolated between the two snapshots that bracket
``published_at + a``, with (age 0, 0 views) as an anchor. Nothing is extrapolated, and a bracket
wider than :func:`max_bracket_hours` (``max(a, min(48 h, 24 a))``) is refused, so a value always
rests on nearby observations: early views grow fastest, so a line from the publish instant to a
snapshot 40 h later would put a 1 h value far below the truth (and every new video's score far
above its peers).

Where watch mode sampled a young video densely, its early points (the sample taken for age
*a*, within the hour after it) are used as they are: that figure is observed, not interpolated,
and its row says so (``observed``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from tubescope.analysis.features import (
    FORMATS,
    JsonMixin,
    epoch_ns,
    id_positions,
    require_aware,
    require_columns,
)

DEFAULT_AGES_HOURS: tuple[tuple[str, float], ...] = (("24h", 24.0), ("7d", 168.0), ("28d", 672.0))
EARLY_AGES_HOURS: tuple[tuple[str, float], ...] = (("1h", 1.0), ("6h", 6.0), ("24h", 24.0), ("72h", 72.0))
"""The first-72-hours curve points watch mode observes (the breakout ages)."""
MIN_BRACKET_HOURS = 48.0
"""The widest bracket any age may be interpolated across (wider for older ages: up to the age)."""
BRACKET_AGE_MULTIPLE = 24.0
"""Below 2 h of age the widest bracket is this many times the age (24 h for the 1 h value: a video
first seen at the next daily refresh still has one; one first seen 40 h later has none)."""

OUTLIER_SCORE_DEFINITION = (
    "outlier_score = views at age a / median views at age a of the same channel's videos of the "
    "same format (views interpolated between snapshots; derived metric, not a YouTube statistic)"
)


@dataclass(frozen=True)
class SameAgeRow(JsonMixin):
    """One video's views at a given age and its percentile among the channel's videos at that age."""

    video_id: str
    video_format: str
    age_label: str
    age_hours: float
    views: float
    percentile: float
    """Share of same-format videos with fewer views at this age (ties count half), 0-100."""
    band: str
    outlier_score: float | None
    observed: bool = False
    """True when the views are a dense sample taken at this age (not interpolated)."""
    derived: bool = True


@dataclass(frozen=True)
class FormatAgeMedian(JsonMixin):
    """The median views of one format's videos at one age."""

    video_format: str
    age_label: str
    n_videos: int
    median_views: float | None


@dataclass(frozen=True)
class SameAgeResult(JsonMixin):
    """Same-age comparison of a channel's videos: medians per format and age, and each video's rank."""

    ages: tuple[str, ...]
    medians: tuple[FormatAgeMedian, ...]
    rows: tuple[SameAgeRow, ...]
    definition: str = OUTLIER_SCORE_DEFINITION
    derived: bool = True

    def frame(self) -> pd.DataFrame:
        """The rows as a table (built once per result; each call returns a fresh copy)."""
        cached: pd.DataFrame | None = self.__dict__.get("_frame")
        if cached is None:
            columns = ["video_id", "video_format", "age_label", "age_hours", "views", "percentile", "band"]
            data = {c: [getattr(r, c) for r in self.rows] for c in columns}
            scores = [np.nan if r.outlier_score is None else r.outlier_score for r in self.rows]
            data["outlier_score"] = scores
            data["observed"] = [r.observed for r in self.rows]
            cached = pd.DataFrame(data, columns=[*columns, "outlier_score", "observed"])
            object.__setattr__(self, "_frame", cached)  # a cache, not a field: eq and to_dict ignore it
        return cached.copy()

    def to_dict(self) -> dict[str, Any]:
        """What :class:`JsonMixin` gives, with the rows serialised straight from their table."""
        table: pd.DataFrame | None = self.__dict__.get("_frame")
        if table is None:
            return super().to_dict()
        names = [f.name for f in fields(SameAgeRow) if f.name != "derived"]
        columns = [table[name].tolist() for name in names]
        scores = columns[names.index("outlier_score")]
        columns[names.index("outlier_score")] = [v if math.isfinite(v) else None for v in scores]
        rows = [
            {**dict(zip(names, values, strict=True)), "derived": True}
            for values in zip(*columns, strict=True)
        ]
        return {
            "ages": list(self.ages),
            "medians": [m.to_dict() for m in self.medians],
            "rows": rows,
            "definition": self.definition,
            "derived": self.derived,
        }

    def performance_index(self, preferred: tuple[str, ...] = ("7d", "24h", "28d")) -> pd.DataFrame:
        """Each video's outlier score at the first preferred age it has (columns score, basis).

        Computed once per ``preferred`` for a result (the analysis asks for it several times);
        each call returns a fresh copy.
        """
        memo: dict[tuple[str, ...], pd.DataFrame] = self.__dict__.setdefault("_performance", {})
        key = tuple(preferred)
        found = memo.get(key)
        if found is None:
            found = memo[key] = self._performance_index(key)
        return found.copy()

    def _performance_index(self, preferred: tuple[str, ...]) -> pd.DataFrame:
        frame = self.__dict__.get("_frame")
        frame = (self.frame() if frame is None else frame).dropna(subset=["outlier_score"])
        frame = frame[frame["outlier_score"] > 0]
        order = {label: i for i, label in enumerate(preferred)}
        frame = frame[frame["age_label"].isin(order)]
        frame = frame.assign(_order=frame["age_label"].map(order)).sort_values(["video_id", "_order"])
        best = frame.drop_duplicates("video_id")
        return pd.DataFrame(
            {
                "score": best["outlier_score"].to_numpy(),
                "basis": ("same_age_" + best["age_label"].astype(str)).to_numpy(),
            },
            index=pd.Index(best["video_id"].to_numpy(), name="video_id"),
        )


def band_of(percentile: float) -> str:
    """The percentile band ("top 10%", "bottom 25%", ...) that ``percentile`` falls in."""
    if percentile >= 90:
        return "top 10%"
    if percentile >= 75:
        return "top 25%"
    if percentile > 25:
        return "middle 50%"
    if percentile > 10:
        return "bottom 25%"
    return "bottom 10%"


def max_bracket_hours(hours: float) -> float:
    """The widest pair of snapshots (hours apart) the views at age ``hours`` may be interpolated
    between: ``max(hours, min(MIN_BRACKET_HOURS, BRACKET_AGE_MULTIPLE * hours))``."""
    return max(hours, min(MIN_BRACKET_HOURS, BRACKET_AGE_MULTIPLE * hours))


def observed_at_ages(
    videos: pd.DataFrame,
    early_points: pd.DataFrame | None,
    now: datetime,
    ages_hours: tuple[tuple[str, float], ...] = DEFAULT_AGES_HOURS,
) -> pd.DataFrame:
    """Dense samples taken for each age (by ``now``), one row per video, one column per age label
    (NaN where no sample was taken for that age)."""
    clock = require_aware(now)
    ids = videos["video_id"].astype(str).to_numpy()
    out = pd.DataFrame(index=pd.Index(ids, name="video_id"), columns=[a for a, _ in ages_hours], dtype=float)
    if early_points is None or not len(early_points) or not len(ids):
        return out
    require_columns(early_points, "early_points", ("video_id", "slot_hours", "view_count", "observed_at"))
    points = early_points[early_points["observed_at"] <= clock]
    position = id_positions(points["video_id"], videos["video_id"])
    slots = pd.to_numeric(points["slot_hours"], errors="coerce").to_numpy(dtype=float)
    views = pd.to_numeric(points["view_count"], errors="coerce").to_numpy(dtype=float)
    for label, hours in ages_hours:
        hit = (position >= 0) & np.isclose(slots, hours, rtol=0, atol=1e-9)
        column = np.full(len(ids), np.nan)
        column[position[hit]] = views[hit]
        out[label] = column
    return out


def views_at_ages(
    videos: pd.DataFrame,
    video_snapshots: pd.DataFrame,
    now: datetime,
    ages_hours: tuple[tuple[str, float], ...] = DEFAULT_AGES_HOURS,
    early_points: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Views, one row per video, one column per age label (NaN when not observable): the dense
    sample taken for that age where ``early_points`` has one, else interpolated."""
    interpolated = _interpolated(videos, video_snapshots, now, ages_hours)
    if early_points is None:
        return interpolated
    observed = observed_at_ages(videos, early_points, now, ages_hours)
    return observed.where(observed.notna(), interpolated)


def _interpolated(
    videos: pd.DataFrame,
    video_snapshots: pd.DataFrame,
    now: datetime,
    ages_hours: tuple[tuple[str, float], ...],
) -> pd.DataFrame:
    clock = require_aware(now)
    require_columns(videos, "videos", ("video_id", "published_at"))
    require_columns(video_snapshots, "video_snapshots", ("video_id", "observed_at", "view_count"))
    ids = videos["video_id"].astype(str).to_numpy()
    out = pd.DataFrame(index=pd.Index(ids, name="video_id"), columns=[a for a, _ in ages_hours], dtype=float)
    if len(ids) == 0:
        return out
    published_ns = epoch_ns(videos["published_at"])
    # Masks over the whole frame rather than a filtered copy of it (which copied every column).
    observed = video_snapshots["observed_at"]
    vidx = id_positions(video_snapshots["video_id"], videos["video_id"])
    views = pd.to_numeric(video_snapshots["view_count"], errors="coerce").to_numpy(dtype=float)
    keep = np.asarray(observed <= clock, dtype=bool) & (vidx >= 0) & ~np.isnan(views)
    vidx_i = vidx[keep]
    age = (epoch_ns(observed)[keep] - published_ns[vidx_i]) / 3.6e12
    views = views[keep]
    ok = age >= 0
    # The publish instant is a free observation: zero views at age zero.
    vidx_all = np.concatenate([vidx_i[ok], np.arange(len(ids))])
    age_all = np.concatenate([age[ok], np.zeros(len(ids))])
    views_all = np.concatenate([views[ok], np.zeros(len(ids))])
    span = float(max(age_all.max(), max(a for _, a in ages_hours))) + 1.0
    keys = vidx_all * span + age_all
    order = np.argsort(keys, kind="stable")
    keys, vidx_all, age_all, views_all = keys[order], vidx_all[order], age_all[order], views_all[order]
    video_range = np.arange(len(ids))
    for label, hours in ages_hours:
        target = video_range * span + hours
        hi = np.searchsorted(keys, target, side="left")
        lo = hi - 1
        valid = (hi < len(keys)) & (lo >= 0)
        hi_c, lo_c = np.clip(hi, 0, len(keys) - 1), np.clip(lo, 0, len(keys) - 1)
        valid &= (vidx_all[hi_c] == video_range) & (vidx_all[lo_c] == video_range)
        exact = valid & np.isclose(age_all[hi_c], hours, rtol=0, atol=1e-9)
        width = age_all[hi_c] - age_all[lo_c]
        valid &= exact | (width <= max_bracket_hours(hours))
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(width > 0, (hours - age_all[lo_c]) / width, 1.0)
        value = views_all[lo_c] + frac * (views_all[hi_c] - views_all[lo_c])
        value = np.where(exact, views_all[hi_c], value)
        out[label] = np.where(valid, value, np.nan)
    return out


def analyze_same_age(
    videos: pd.DataFrame,
    video_snapshots: pd.DataFrame,
    now: datetime,
    ages_hours: tuple[tuple[str, float], ...] = DEFAULT_AGES_HOURS,
    early_points: pd.DataFrame | None = None,
) -> SameAgeResult:
    """Same-age views, percentile bands and outlier scores at each of ``ages_hours``; the
    dense samples in ``early_points`` stand as observed where they exist."""
    require_columns(videos, "videos", ("video_id", "published_at", "video_format"))
    observed = observed_at_ages(videos, early_points, now, ages_hours)
    at_age = views_at_ages(videos, video_snapshots, now, ages_hours, early_points)
    fmt = videos["video_format"].astype(str).to_numpy()
    ids = at_age.index.to_numpy()
    medians: list[FormatAgeMedian] = []
    parts: list[pd.DataFrame] = []
    for label, hours in ages_hours:
        column = at_age[label].to_numpy(dtype=float)
        for name in FORMATS:
            members = np.flatnonzero((fmt == name) & ~np.isnan(column))
            values = column[members]
            median = float(np.median(values)) if len(values) else None
            medians.append(FormatAgeMedian(name, label, len(values), median))
            if not len(values):
                continue
            pct = (pd.Series(values).rank(method="average").to_numpy() - 0.5) / len(values) * 100.0
            parts.append(
                pd.DataFrame(
                    {
                        "video_id": ids[members].astype(str),
                        "video_format": name,
                        "age_label": label,
                        "age_hours": hours,
                        "views": values,
                        "percentile": pct,
                        "band": np.select(
                            [pct >= 90, pct >= 75, pct > 25, pct > 10],
                            ["top 10%", "top 25%", "middle 50%", "bottom 25%"],
                            "bottom 10%",
                        ),
                        "outlier_score": values / median if median else np.nan,
                        "observed": ~np.isnan(observed[label].to_numpy(dtype=float)[members]),
                    }
                )
            )
    table = pd.concat(parts, ignore_index=True) if parts else None
    rows: tuple[SameAgeRow, ...] = ()
    if table is not None:
        scores = [None if not np.isfinite(v) else float(v) for v in table["outlier_score"].to_numpy()]
        rows = tuple(
            map(
                SameAgeRow,
                table["video_id"].tolist(),
                table["video_format"].tolist(),
                table["age_label"].tolist(),
                table["age_hours"].astype(float).tolist(),
                table["views"].astype(float).tolist(),
                table["percentile"].astype(float).tolist(),
                table["band"].tolist(),
                scores,
                table["observed"].astype(bool).tolist(),
            )
        )
    result = SameAgeResult(ages=tuple(a for a, _ in ages_hours), medians=tuple(medians), rows=rows)
    if table is not None:
        object.__setattr__(result, "_frame", table)  # the same rows, already a table
    return result
