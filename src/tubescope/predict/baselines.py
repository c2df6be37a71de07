"""The two reference forecasts the model must beat, computed as they would have been at publish time.

* **channel median**: the median of ``log1p(views)`` of the channel's last ``window`` same-format
  uploads before the video, each at its latest snapshot taken by the video's publish time,
  whatever its age then (what a channel owner sees on their videos page);
* **channel median x age curve**: the same videos' views first moved to the horizon age along a
  global age curve (the median ratio of views at age ``a`` to views at the horizon, learned from
  training videos), then the median.

Both fall back to the training median of the format when the channel has no earlier upload with
a snapshot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tubescope.analysis.frames import ChannelFrames
from tubescope.predict.features import FORMAT_CODES, to_seconds

Array = np.ndarray[Any, Any]

_DAY = 86_400.0
_EPOCH = pd.Timestamp("2000-01-01", tz="UTC")
_GROUP_SHIFT = np.int64(1) << np.int64(33)


class AgeCurve:
    """Median ``log1p(views at age a) - log1p(views at the horizon)`` by log-age bin."""

    def __init__(self, n_bins: int = 24) -> None:
        self.n_bins = n_bins

    def fit(self, snapshot_log_age: Array, snapshot_gap: Array) -> AgeCurve:
        """``snapshot_gap`` is each snapshot's log views minus its video's log views at the horizon."""
        finite = np.isfinite(snapshot_log_age) & np.isfinite(snapshot_gap)
        ages, gaps = snapshot_log_age[finite], snapshot_gap[finite]
        if ages.size == 0:
            self.centres_ = np.array([0.0])
            self.offsets_ = np.array([0.0])
            return self
        edges = np.unique(np.quantile(ages, np.linspace(0, 1, self.n_bins + 1)))
        which = np.clip(np.searchsorted(edges, ages, side="right") - 1, 0, max(len(edges) - 2, 0))
        centres, offsets = [], []
        for b in np.unique(which):
            members = which == b
            centres.append(float(np.median(ages[members])))
            offsets.append(float(np.median(gaps[members])))
        self.centres_ = np.asarray(centres)
        self.offsets_ = np.maximum.accumulate(np.asarray(offsets))  # views never fall with age
        return self

    def offset(self, log_age: Array) -> Array:
        return np.asarray(np.interp(log_age, self.centres_, self.offsets_), dtype=np.float64)


def fit_age_curve(frames: ChannelFrames, horizon_log_views: pd.Series, horizon_days: float) -> AgeCurve:
    """Learn the curve from the snapshots of videos whose views at the horizon are known."""
    snaps = frames.video_snapshots[["video_id", "observed_at", "view_count"]]
    snaps = snaps[snaps["video_id"].isin(horizon_log_views.index)]
    published = frames.videos.drop_duplicates("video_id", keep="last").set_index("video_id")["published_at"]
    age = (to_seconds(snaps["observed_at"]) - to_seconds(published.loc[snaps["video_id"]])) / _DAY
    views = pd.to_numeric(snaps["view_count"], errors="coerce").to_numpy(dtype=np.float64)
    keep = age > 0
    gap = np.log1p(views) - horizon_log_views.loc[snaps["video_id"]].to_numpy(dtype=np.float64)
    return AgeCurve().fit(np.log1p(age[keep]), gap[keep])


def latest_views_before(frames: ChannelFrames, rows: pd.DataFrame, *, window: int = 20) -> pd.DataFrame:
    """For each row (``channel_id``, ``video_format``, ``published_at``): the channel's last
    ``window`` same-format uploads before it, each with its latest snapshot taken by then.

    Returns a long frame: ``row`` (position in ``rows``), ``log_views``, ``log_age_days``.
    """
    videos = frames.videos.drop_duplicates("video_id", keep="last")
    groups = videos["channel_id"].astype(str) + "|" + videos["video_format"].astype(str)
    codes = {g: i for i, g in enumerate(pd.unique(groups))}
    video_group = groups.map(codes).to_numpy(dtype=np.int64)
    video_pub = to_seconds(videos["published_at"])
    order = np.lexsort((video_pub, video_group))
    sorted_group, sorted_pub = video_group[order], video_pub[order]
    sorted_ids = videos["video_id"].to_numpy()[order]
    group_start = np.searchsorted(sorted_group, sorted_group, side="left")

    row_group_text = rows["channel_id"].astype(str) + "|" + rows["video_format"].astype(str)
    row_group = row_group_text.map(codes).fillna(-1).to_numpy(dtype=np.int64)
    row_pub = to_seconds(rows["published_at"])
    # Last upload of the same group strictly before each row: lexicographic search on (group, time).
    key = sorted_group * _GROUP_SHIFT + sorted_pub
    query = row_group * _GROUP_SHIFT + row_pub
    last = np.searchsorted(key, query, side="left") - 1
    valid_last = (row_group >= 0) & (last >= 0)
    valid_last &= sorted_group[np.maximum(last, 0)] == row_group
    offsets = np.arange(window)
    candidates = last[:, None] - offsets[None, :]
    ok = valid_last[:, None] & (candidates >= group_start[np.maximum(last, 0)][:, None])
    pair_row = np.broadcast_to(np.arange(len(rows))[:, None], candidates.shape)[ok]
    pair_video = sorted_ids[candidates[ok]]
    pairs = pd.DataFrame(
        {
            "row": pair_row,
            "video_id": pair_video,
            "at": _EPOCH + pd.to_timedelta(row_pub[pair_row], unit="s"),
        }
    )
    snaps = frames.video_snapshots[["video_id", "observed_at", "view_count"]].copy()
    snaps["observed_at"] = pd.to_datetime(snaps["observed_at"], utc=True).astype("datetime64[ns, UTC]")
    pairs["at"] = pairs["at"].astype("datetime64[ns, UTC]")
    merged = pd.merge_asof(
        pairs.sort_values("at"),
        snaps.sort_values("observed_at"),
        left_on="at",
        right_on="observed_at",
        by="video_id",
        direction="backward",
    ).dropna(subset=["observed_at"])
    published = videos.set_index("video_id")["published_at"]
    age = (to_seconds(merged["observed_at"]) - to_seconds(published.loc[merged["video_id"]])) / _DAY
    views = pd.to_numeric(merged["view_count"], errors="coerce").to_numpy(dtype=np.float64)
    return pd.DataFrame(
        {
            "row": merged["row"].to_numpy(),
            "log_views": np.log1p(views),
            "log_age_days": np.log1p(np.maximum(age, 0.0)),
        }
    ).dropna()


def baseline_forecasts(
    frames: ChannelFrames,
    rows: pd.DataFrame,
    *,
    curve: AgeCurve,
    format_medians: dict[float, float],
    fallback: float,
    window: int = 20,
) -> tuple[Array, Array]:
    """(channel median, channel median x age curve) forecasts of ``log1p(views)`` for ``rows``."""
    pairs = latest_views_before(frames, rows, window=window)
    pairs = pairs.assign(adjusted=pairs["log_views"] - curve.offset(pairs["log_age_days"].to_numpy()))
    medians = pairs.groupby("row")[["log_views", "adjusted"]].median()
    fmt = rows["video_format"].astype(str).map(FORMAT_CODES).map(format_medians).fillna(fallback)
    default = fmt.to_numpy(dtype=np.float64)
    plain = medians["log_views"].reindex(range(len(rows))).to_numpy(dtype=np.float64)
    adjusted = medians["adjusted"].reindex(range(len(rows))).to_numpy(dtype=np.float64)
    return np.where(np.isfinite(plain), plain, default), np.where(np.isfinite(adjusted), adjusted, default)
