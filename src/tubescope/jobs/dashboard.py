"""What the web dashboard shows, built from the same functions as every other surface.

The dashboard renders a channel page from parts (its key figures, its video table, a per-video
curve) that the service caches per channel and forgets when a run lands; none of them re-renders
the whole report. Everything here returns data or HTML strings: the service decides what to
cache and how to answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from tubescope.analysis.kpis import ChannelKpis, channel_kpis_from_table
from tubescope.analysis.same_age import views_at_ages
from tubescope.errors import NotFoundError
from tubescope.jobs.catalog import KpiSource, channel_kpi_table, resolve_channel
from tubescope.jobs.common import load_early_points, newest_observation
from tubescope.report.html import kpi_figures_html
from tubescope.warehouse import frames as frame_sql
from tubescope.warehouse.repository import Warehouse

VIDEO_TABLE_SORTS = ("published_at", "view_count", "like_count", "comment_count", "duration_seconds", "title")
CURVE_AGES_DAYS: tuple[float, ...] = (0.25, 0.5, 1, 2, 3, 5, 7, 10, 14, 21, 28, 45, 60, 90)


def channel_figures(
    warehouse: Warehouse, channel_id: str, *, kpi_table: KpiSource | None = None
) -> ChannelKpis:
    """The channel's key figures: the same :class:`ChannelKpis` the REST API and the report give."""
    frame = (kpi_table or (lambda cid: channel_kpi_table(warehouse, cid)))(channel_id)
    return channel_kpis_from_table(frame, channel_id, newest_observation(warehouse))


def figures_html(figures: ChannelKpis) -> str:
    """The key-figures block, exactly as the report renders it."""
    return str(kpi_figures_html(figures))


@dataclass(frozen=True)
class VideoTablePage:
    """One page of the dashboard's video table."""

    rows: list[dict[str, Any]]
    total: int
    matching: int
    page: int
    pages: int
    sort: str
    descending: bool
    query: str


def video_table(
    rows: Sequence[dict[str, Any]],
    *,
    query: str = "",
    sort: str = "published_at",
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> VideoTablePage:
    """Search (case-insensitive, in titles), sort and cut one page of ``rows``."""
    if sort not in VIDEO_TABLE_SORTS:
        sort = "published_at"
    needle = query.strip().casefold()
    chosen = [r for r in rows if not needle or needle in str(r.get("title") or "").casefold()]
    present = [r for r in chosen if r.get(sort) is not None]
    missing = [r for r in chosen if r.get(sort) is None]
    key = (lambda r: str(r[sort]).casefold()) if sort == "title" else (lambda r: r[sort])
    ordered = sorted(present, key=key, reverse=descending) + missing
    pages = max(1, math.ceil(len(ordered) / page_size))
    current = min(max(page, 1), pages)
    start = (current - 1) * page_size
    return VideoTablePage(
        ordered[start : start + page_size], len(rows), len(ordered), current, pages, sort, descending, query
    )


@dataclass(frozen=True)
class VideoDetail:
    """One video's page: its facts, its view curve against the channel's same-age band."""

    video: dict[str, Any]
    channel_id: str
    channel_title: str
    n_snapshots: int
    chart_svg: str
    band_note: str


_VIDEO_SQL = frame_sql.VIDEOS_SQL.format(where="WHERE video_id = ?")
_SNAPSHOTS_SQL = (
    "SELECT observed_at, view_count FROM video_snapshots WHERE video_id = ? AND view_count IS NOT NULL "
    "ORDER BY observed_at"
)


def video_detail(warehouse: Warehouse, ref: str, video_id: str) -> VideoDetail:
    """The page of ``video_id`` of the channel ``ref``; NotFoundError when it is not that channel's."""
    channel_id = resolve_channel(warehouse, ref)
    found = warehouse.query(_VIDEO_SQL, [video_id])
    if found.empty or str(found.iloc[0]["channel_id"]) != channel_id:
        raise NotFoundError(f"no video {video_id} in channel {ref}")
    video = {str(k): _plain(v) for k, v in found.iloc[0].to_dict().items()}
    snaps = warehouse.query(_SNAPSHOTS_SQL, [video_id])
    published = pd.Timestamp(video["published_at"])
    ages = (pd.to_datetime(snaps["observed_at"], utc=True) - published).dt.total_seconds() / 86400
    points = [(float(a), float(v)) for a, v in zip(ages, snaps["view_count"], strict=True) if a >= 0]
    band, note = _same_age_band(warehouse, channel_id, str(video.get("video_format") or ""))
    titles = warehouse.query("SELECT title FROM channels WHERE channel_id = ?", [channel_id])
    return VideoDetail(
        video=video,
        channel_id=channel_id,
        channel_title=str(titles.iloc[0, 0]) if len(titles) else channel_id,
        n_snapshots=len(snaps),
        chart_svg=curve_svg(points, band, title=f"Views of {video.get('title') or video_id} by age"),
        band_note=note,
    )


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _same_age_band(
    warehouse: Warehouse, channel_id: str, video_format: str
) -> tuple[list[tuple[float, float, float, float]], str]:
    """(age in days, p25, median, p75) of the channel's videos of the same format at each age."""
    frames = warehouse.load_frames([channel_id])
    videos = frames["videos"]
    if video_format:
        videos = videos[videos["video_format"].astype(str) == video_format]
    if videos.empty:
        return [], "no other videos of this format to compare with"
    now = newest_observation(warehouse) or datetime.now(UTC)
    labelled = tuple((f"{a:g}d", a * 24.0) for a in CURVE_AGES_DAYS)
    early = load_early_points(warehouse, [channel_id])
    at_ages = views_at_ages(videos, frames["video_snapshots"], now, labelled, early)
    band = []
    for (label, _), age in zip(labelled, CURVE_AGES_DAYS, strict=True):
        values = at_ages[label].dropna().to_numpy(dtype=float)
        if len(values) >= 5:
            p25, p50, p75 = np.percentile(values, [25, 50, 75])
            band.append((age, float(p25), float(p50), float(p75)))
    count = len(videos)
    note = (
        f"Band: 25th–75th percentile (line: median) of the channel's {count} {video_format or ''} videos "
        "at the same age; ages with fewer than 5 videos observed are left out."
    )
    return band, note


def curve_svg(
    points: Sequence[tuple[float, float]],
    band: Sequence[tuple[float, float, float, float]] = (),
    *,
    title: str,
    width: int = 640,
    height: int = 300,
) -> str:
    """An accessible inline SVG: views (y) by age in days (x), the video's curve over the band."""
    left, right, top, bottom = 64, 16, 28, 40
    xs = [p[0] for p in points] + [b[0] for b in band]
    ys = [p[1] for p in points] + [b[3] for b in band]
    if not xs:
        return f'<p class="empty">{escape(title)}: no snapshots yet.</p>'
    x_max = max(max(xs), 1.0)
    y_max = max(max(ys), 1.0)

    def sx(x: float) -> float:
        return left + (width - left - right) * x / x_max

    def sy(y: float) -> float:
        return height - bottom - (height - top - bottom) * y / y_max

    parts = [
        f'<svg class="curve" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'preserveAspectRatio="xMidYMid meet" style="width:100%;height:auto;max-width:100%">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = y_max * i / 4
        y = sy(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ec"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_short(value)}</text>'
        )
    for i in range(5):
        value = x_max * i / 4
        x = sx(value)
        parts.append(
            f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle" font-size="11">'
            f"{value:.3g}</text>"
        )
    parts.append(
        f'<text x="{(left + width - right) / 2:.0f}" y="{height - 6}" text-anchor="middle" font-size="12">'
        "age (days since publishing)</text>"
    )
    parts.append(
        f'<text x="14" y="{(top + height - bottom) / 2:.0f}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {(top + height - bottom) / 2:.0f})">views</text>'
    )
    if band:
        upper = " ".join(f"{sx(a):.1f},{sy(hi):.1f}" for a, _, _, hi in band)
        lower = " ".join(f"{sx(a):.1f},{sy(lo):.1f}" for a, lo, _, _ in reversed(band))
        parts.append(f'<polygon class="band" points="{upper} {lower}" fill="#1a56c4" fill-opacity=".15"/>')
        median = " ".join(f"{sx(a):.1f},{sy(mid):.1f}" for a, _, mid, _ in band)
        parts.append(
            f'<polyline class="median" points="{median}" fill="none" stroke="#1a56c4" '
            'stroke-dasharray="4 3"/>'
        )
    if points:
        line = " ".join(f"{sx(a):.1f},{sy(v):.1f}" for a, v in points)
        parts.append(
            f'<polyline class="views" points="{line}" fill="none" stroke="#c62828" stroke-width="2"/>'
        )
        parts.extend(
            f'<circle class="snapshot" cx="{sx(a):.1f}" cy="{sy(v):.1f}" r="3.5" fill="#c62828"/>'
            for a, v in points
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(value: float) -> str:
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    return f"{value:.0f}"


def figures_markup(figures: ChannelKpis) -> Markup:
    """:func:`figures_html` as Markup, for templates."""
    return kpi_figures_html(figures)
