"""Upload cadence: uploads per week, gaps between uploads, and how regular the schedule is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from tubescope.analysis.features import FORMATS, JsonMixin, epoch_ns, require_aware, require_columns


@dataclass(frozen=True)
class FormatCadence(JsonMixin):
    """Upload cadence of one video format: uploads per week and the gaps between uploads."""

    video_format: str
    n_uploads: int
    uploads_per_week: float | None
    """Uploads over the whole span from the first upload to ``now``, per 7 days."""
    uploads_per_week_last_28d: float
    uploads_per_week_last_90d: float
    median_gap_hours: float | None
    mean_gap_hours: float | None
    p90_gap_hours: float | None
    max_gap_hours: float | None
    gap_cv: float | None
    """Standard deviation / mean of gaps: 0 for a perfectly regular schedule."""
    derived: bool = True


@dataclass(frozen=True)
class CadenceResult(JsonMixin):
    """A channel's upload cadence, overall and per format, with its longest gap."""

    n_uploads: int
    first_upload: str | None
    last_upload: str | None
    hours_since_last_upload: float | None
    longest_gap_start: str | None
    longest_gap_end: str | None
    by_format: tuple[FormatCadence, ...]
    """``all`` first, then short, long, live."""
    weekly_uploads: tuple[tuple[str, int], ...]
    """(Monday of the ISO week, uploads) for every week from the first upload to ``now``."""
    derived: bool = True

    def stats(self, video_format: str = "all") -> FormatCadence:
        """The cadence of ``video_format`` ("all" for every format together)."""
        for row in self.by_format:
            if row.video_format == video_format:
                return row
        raise KeyError(video_format)


def _format_cadence(label: str, published: pd.Series, clock: pd.Timestamp) -> FormatCadence:
    times = published.sort_values()
    n = len(times)
    last_28 = int((times > clock - pd.Timedelta(days=28)).sum())
    last_90 = int((times > clock - pd.Timedelta(days=90)).sum())
    if n == 0:
        return FormatCadence(label, 0, None, 0.0, 0.0, None, None, None, None, None)
    span_days = (clock - times.iloc[0]).total_seconds() / 86400
    per_week = n / span_days * 7 if span_days > 0 else None
    gaps = np.diff(epoch_ns(times)) / 3.6e12
    has_gaps = gaps.size > 0
    mean = float(gaps.mean()) if has_gaps else None
    return FormatCadence(
        video_format=label,
        n_uploads=n,
        uploads_per_week=per_week,
        uploads_per_week_last_28d=last_28 / 4.0,
        uploads_per_week_last_90d=last_90 / (90 / 7),
        median_gap_hours=float(np.median(gaps)) if has_gaps else None,
        mean_gap_hours=mean,
        p90_gap_hours=float(np.percentile(gaps, 90)) if has_gaps else None,
        max_gap_hours=float(gaps.max()) if has_gaps else None,
        gap_cv=float(gaps.std() / mean) if has_gaps and mean else None,
    )


def analyze_cadence(videos: pd.DataFrame, now: datetime) -> CadenceResult:
    """Cadence of the videos published at or before ``now``."""
    clock = require_aware(now)
    require_columns(videos, "videos", ("video_id", "published_at", "video_format"))
    published = pd.to_datetime(videos["published_at"], utc=True)
    mask = (published <= clock).to_numpy()
    published = published[mask]
    fmt = videos["video_format"].astype(str).to_numpy()[mask]
    rows = [_format_cadence("all", published, clock)]
    rows += [_format_cadence(name, published[fmt == name], clock) for name in FORMATS]
    ordered = published.sort_values()
    gap_start = gap_end = None
    weekly: tuple[tuple[str, int], ...] = ()
    if len(ordered) >= 2:
        gaps = np.diff(epoch_ns(ordered))
        i = int(np.argmax(gaps))
        gap_start, gap_end = ordered.iloc[i].isoformat(), ordered.iloc[i + 1].isoformat()
    if len(ordered):
        week_start = ordered.dt.tz_localize(None).dt.to_period("W-SUN").dt.start_time
        counts = week_start.value_counts()
        weeks = pd.date_range(week_start.min(), clock.tz_localize(None).normalize(), freq="W-MON")
        weekly = tuple((w.strftime("%Y-%m-%d"), int(counts.get(w, 0))) for w in weeks)
    return CadenceResult(
        n_uploads=len(ordered),
        first_upload=ordered.iloc[0].isoformat() if len(ordered) else None,
        last_upload=ordered.iloc[-1].isoformat() if len(ordered) else None,
        hours_since_last_upload=(clock - ordered.iloc[-1]).total_seconds() / 3600 if len(ordered) else None,
        longest_gap_start=gap_start,
        longest_gap_end=gap_end,
        by_format=tuple(rows),
        weekly_uploads=weekly,
    )
