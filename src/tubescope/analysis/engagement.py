"""Engagement rate per video and per format: (likes + comments) / views.

Definitions (a derived metric, not a YouTube statistic):

- a video's rate is ``(like_count + comment_count) / view_count`` from its latest observed counts;
- videos whose likes are hidden (``like_count`` is <NA>) are left out of every statistic and
  counted in ``n_hidden_likes``: a missing count is not zero engagement;
- disabled comments (<NA>) count as zero comments (nobody can comment), and are counted in
  ``n_comments_disabled``;
- videos with no views (0 or <NA>) have no rate and are counted in ``n_no_views``;
- p95 is numpy's linear-interpolation percentile. Shorts, long-form and live are never pooled
  except in the ``all`` row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tubescope.analysis.features import FORMATS, JsonMixin, as_float_array, require_columns

ENGAGEMENT_DEFINITION = (
    "engagement_rate = (likes + comments) / views per video, latest observed counts; "
    "videos with hidden likes excluded and counted; disabled comments count as 0 (derived metric)"
)


@dataclass(frozen=True)
class EngagementStats(JsonMixin):
    """Engagement of one format (or ``all``) of one channel."""

    video_format: str
    n_videos: int
    n_rated: int
    n_hidden_likes: int
    n_comments_disabled: int
    n_no_views: int
    mean: float | None
    median: float | None
    p95: float | None
    derived: bool = True


@dataclass(frozen=True)
class EngagementResult(JsonMixin):
    """Engagement rates per format and per video, with their definition."""

    by_format: tuple[EngagementStats, ...]
    """``all`` first, then short, long, live (formats with no videos are still listed, with zeros)."""
    per_video: tuple[tuple[str, float], ...]
    """(video_id, rate) for every rated video."""
    definition: str = ENGAGEMENT_DEFINITION
    derived: bool = True

    def stats(self, video_format: str = "all") -> EngagementStats:
        """The engagement statistics of ``video_format`` ("all" for every format together)."""
        for stats in self.by_format:
            if stats.video_format == video_format:
                return stats
        raise KeyError(video_format)

    def rates(self) -> pd.Series:
        """Each video's engagement rate, indexed by video id."""
        ids = [v for v, _ in self.per_video]
        return pd.Series([r for _, r in self.per_video], index=pd.Index(ids, name="video_id"), dtype=float)


def engagement_rates(videos: pd.DataFrame) -> pd.Series:
    """Rate per video (index ``video_id``); NaN where likes are hidden or there are no views."""
    require_columns(videos, "videos", ("video_id", "view_count", "like_count", "comment_count"))
    views = as_float_array(videos["view_count"])
    likes = as_float_array(videos["like_count"])
    comments = np.nan_to_num(as_float_array(videos["comment_count"]), nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where((views > 0) & ~np.isnan(likes), (likes + comments) / views, np.nan)
    return pd.Series(rate, index=pd.Index(videos["video_id"].astype(str).to_numpy(), name="video_id"))


def _stats(label: str, views: np.ndarray, likes: np.ndarray, comments: np.ndarray) -> EngagementStats:
    has_views = views > 0
    hidden = np.isnan(likes)
    rated = has_views & ~hidden
    rate = (likes[rated] + np.nan_to_num(comments[rated], nan=0.0)) / views[rated]
    return EngagementStats(
        video_format=label,
        n_videos=len(views),
        n_rated=int(rated.sum()),
        n_hidden_likes=int(hidden.sum()),
        n_comments_disabled=int(np.isnan(comments).sum()),
        n_no_views=int((~has_views).sum()),
        mean=float(rate.mean()) if rate.size else None,
        median=float(np.median(rate)) if rate.size else None,
        p95=float(np.percentile(rate, 95)) if rate.size else None,
    )


def analyze_engagement(videos: pd.DataFrame) -> EngagementResult:
    """Engagement statistics of the given videos (one channel's, or any set), by format."""
    require_columns(
        videos, "videos", ("video_id", "video_format", "view_count", "like_count", "comment_count")
    )
    views = np.nan_to_num(as_float_array(videos["view_count"]), nan=0.0)
    likes = as_float_array(videos["like_count"])
    comments = as_float_array(videos["comment_count"])
    fmt = videos["video_format"].astype(str).to_numpy()
    rows = [_stats("all", views, likes, comments)]
    for name in FORMATS:
        mask = fmt == name
        rows.append(_stats(name, views[mask], likes[mask], comments[mask]))
    rates = engagement_rates(videos).dropna()
    return EngagementResult(
        by_format=tuple(rows),
        per_video=tuple(zip(rates.index.tolist(), rates.to_numpy().tolist(), strict=True)),
    )
