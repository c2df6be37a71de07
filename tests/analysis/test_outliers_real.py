"""Age-aware outliers on the real channel tracker (../shared/data/real, internal testing only).

Videos are judged against same-format videos of about their own age, computed here independently
with pandas; skipped with a reason where the data are absent.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tubescope.analysis.outliers import SAME_AGE_LIFETIME_BASIS, OutlierOptions, analyze_outliers
from tubescope.domain.durations import parse_duration_seconds

TRACKER = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "yt-channel-tracker-2026"

pytestmark = pytest.mark.skipif(
    not (TRACKER / "videos_2026-02.csv").is_file(),
    reason=f"real channel-tracker data not found at {TRACKER.resolve()} (../shared/data/real is absent)",
)


@cache
def february() -> tuple[pd.DataFrame, pd.Timestamp]:
    """The 2026-02 per-video snapshot (format by duration: Shorts <= 180 s) and its time."""
    rows = pd.read_csv(TRACKER / "videos_2026-02.csv", encoding="utf-8-sig", dtype=str)
    now = pd.to_datetime(rows["snapshot_utc"], utc=True, format="mixed").max()
    seconds = pd.Series(
        [parse_duration_seconds(v) if isinstance(v, str) else None for v in rows["duration_iso8601"]],
        dtype="float64",
    )
    videos = pd.DataFrame(
        {
            "video_id": rows["video_id"],
            "channel_id": rows["channel_id"],
            "published_at": pd.to_datetime(rows["published_at"], utc=True, format="mixed"),
            "video_format": np.where(seconds <= 180, "short", "long"),
            **{
                column: pd.array(pd.to_numeric(rows[column], errors="coerce"), dtype="Int64")
                for column in ("view_count", "like_count", "comment_count")
            },
        }
    ).dropna(subset=["view_count"])
    videos["age_days"] = (now - videos["published_at"]).dt.total_seconds() / 86400
    return videos, now


def same_age_log_ratios(own: pd.DataFrame, band: float, min_peers: int, min_age: float) -> pd.Series:
    """log((views + 1) / (median views of the other same-format videos aged within ``band`` + 1))."""
    out = {}
    for row in own.itertuples():
        if row.age_days < min_age:
            continue
        peers = own[
            (own["video_format"] == row.video_format)
            & own["age_days"].between(row.age_days / band, row.age_days * band)
            & (own["video_id"] != row.video_id)
        ]
        if len(peers) >= min_peers:
            out[row.video_id] = float(np.log((row.view_count + 1) / (peers["view_count"].median() + 1)))
    return pd.Series(out, dtype="float64")


def test_real_videos_are_judged_against_peers_of_their_own_age() -> None:
    videos, now = february()
    options = OutlierOptions()
    clear_breakouts, flagged, young, too_early, called_low = 0, 0, 0, 0, 0
    channels = sorted(videos["channel_id"].unique())[::3]  # a third of the channels keeps it quick
    for channel_id in channels:
        own = videos[videos["channel_id"] == channel_id].reset_index(drop=True)
        if len(own) < 15:
            continue
        result = analyze_outliers(own, options=options, now=now.to_pydatetime())
        ratios = same_age_log_ratios(own, options.age_band, options.min_peers, options.min_lifetime_age_days)
        if len(ratios) >= options.min_videos:
            centre = ratios.median()
            scale = (ratios - centre).abs().median() / 0.6745
            # several times its same-age peers and far outside the channel's own spread
            clear = ratios[(ratios >= np.log(7)) & (ratios - centre >= 6 * scale)]
            clear_breakouts += len(clear)
            flagged += len(set(clear.index) & set(result.breakouts()))
        fresh = set(own.loc[own["age_days"] < options.min_lifetime_age_days, "video_id"])
        young += len(fresh)
        too_early += len(fresh & set(result.too_early_to_judge))
        called_low += len(fresh & set(result.underperformers()))
        assert all(o.basis == SAME_AGE_LIFETIME_BASIS for o in result.outliers)
    assert clear_breakouts >= 3
    assert flagged == clear_breakouts, (flagged, clear_breakouts)
    # A video younger than its comparison set is "too early to judge", never "low".
    assert young >= 50 and too_early == young and called_low == 0
