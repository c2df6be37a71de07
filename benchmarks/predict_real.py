"""View-forecast figures on the real data in ../shared/data/real (skipped with a reason when absent).

    python benchmarks/predict_real.py [--horizons 7 2]

* ``yt-channel-tracker-2026``: two monthly per-video snapshots (2026-01-28, 2026-02-04) of about
  200 channels, with daily channel statistics for subscribers.
* ``yt-trending-daily-2026``: daily mostPopular lists for US, GB and IN; a video's repeated
  appearances are its snapshots. Rows with no statistics (views 0) are dropped as missing.

Neither source says which videos are Shorts: format is by duration (<= 180 s). Everything goes
through the same ``train_forecaster`` as ``tubescope train``: time-based split, leakage-free
features, conformal intervals. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tubescope.analysis.frames import ChannelFrames
from tubescope.domain.durations import parse_duration_seconds
from tubescope.errors import DataQualityError
from tubescope.predict.model import ForecastOptions, train_forecaster

REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"


def _format(seconds: pd.Series, raw: pd.Series) -> pd.Series:
    live = raw.fillna("P0D").isin(["P0D", "PT0S"]) | seconds.isna()
    return pd.Series(np.where(live, "live", np.where(seconds <= 180, "short", "long")), index=seconds.index)


def _durations(raw: pd.Series) -> pd.Series:
    return pd.Series(
        [parse_duration_seconds(v) if isinstance(v, str) else None for v in raw], dtype="float64"
    )


def _empty_channel_snapshots() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel_id": pd.Series(dtype=str),
            "observed_at": pd.Series(dtype="datetime64[ns, UTC]"),
            "subscriber_count": pd.Series(dtype="Int64"),
            "view_count": pd.Series(dtype="Int64"),
            "video_count": pd.Series(dtype="Int64"),
        }
    )


def tracker_frames(folder: Path) -> ChannelFrames:
    parts = [pd.read_csv(folder / f"videos_2026-0{m}.csv", encoding="utf-8-sig", dtype=str) for m in (1, 2)]
    rows = pd.concat(parts, ignore_index=True)
    rows["published_at"] = pd.to_datetime(rows["published_at"], utc=True, format="mixed")
    rows["observed_at"] = pd.to_datetime(rows["snapshot_utc"], utc=True, format="mixed")
    rows = rows.sort_values("observed_at")
    latest = rows.drop_duplicates("video_id", keep="last").reset_index(drop=True)
    seconds = _durations(latest["duration_iso8601"])
    videos = pd.DataFrame(
        {
            "video_id": latest["video_id"],
            "channel_id": latest["channel_id"],
            "title": latest["title"].fillna(""),
            "published_at": latest["published_at"],
            "duration_seconds": seconds,
            "video_format": _format(seconds, latest["duration_iso8601"]),
            "tags": "",
            "tag_count": 0,
            "category_id": latest["category_id"],
            "view_count": pd.to_numeric(latest["view_count"], errors="coerce").astype("Int64"),
        }
    )
    snapshots = pd.DataFrame(
        {
            "video_id": rows["video_id"],
            "channel_id": rows["channel_id"],
            "observed_at": rows["observed_at"],
            "view_count": pd.to_numeric(rows["view_count"], errors="coerce").astype("Int64"),
        }
    ).dropna(subset=["view_count"])
    reference = pd.read_csv(folder / "channels_reference.csv", encoding="utf-8-sig", dtype=str)
    channels = pd.DataFrame(
        {
            "channel_id": reference["channel_id"],
            "title": reference["channel_title"],
            "handle": reference["custom_url"],
            "published_at": pd.to_datetime(reference["channel_published_at"], utc=True, format="mixed"),
        }
    )
    daily = pd.read_csv(
        folder / "youtube_daily_snapshots.csv", encoding="utf-8-sig", dtype={"channel_id": str}
    )
    channel_snapshots = pd.DataFrame(
        {
            "channel_id": daily["channel_id"],
            # The daily job runs early in the UTC day: a day's row is known from that morning.
            "observed_at": pd.to_datetime(daily["date_utc"], utc=True) + pd.Timedelta(hours=8),
            "subscriber_count": pd.to_numeric(daily["subscribers"], errors="coerce").astype("Int64"),
            "view_count": pd.to_numeric(daily["views"], errors="coerce").astype("Int64"),
            "video_count": pd.to_numeric(daily["videos"], errors="coerce").astype("Int64"),
        }
    )
    return ChannelFrames(channels, videos, snapshots, channel_snapshots)


def trending_frames(folder: Path) -> ChannelFrames:
    parts = []
    for country in ("US", "GB", "IN"):
        path = next(folder.glob(f"trending_{country}_*.csv"))
        parts.append(pd.read_csv(path, dtype={"video_id": str, "category_id": str, "channel_id": str}))
    rows = pd.concat(parts, ignore_index=True)
    rows["fetched_at"] = pd.to_datetime(rows["fetched_at"], utc=True, format="mixed")
    rows["published_at"] = pd.to_datetime(rows["published_at"], utc=True, format="mixed")
    rows = rows[pd.to_numeric(rows["views"], errors="coerce") > 0].sort_values("fetched_at")
    latest = rows.drop_duplicates("video_id", keep="last").reset_index(drop=True)
    seconds = _durations(latest["duration_raw"])
    tags = latest["tags"].fillna("").astype(str)
    videos = pd.DataFrame(
        {
            "video_id": latest["video_id"],
            "channel_id": latest["channel_id"],
            "title": latest["title"].fillna(""),
            "published_at": latest["published_at"],
            "duration_seconds": seconds,
            "video_format": _format(seconds, latest["duration_raw"]),
            "tags": tags.str.replace(", ", "|", regex=False),
            "tag_count": pd.to_numeric(latest["tag_count"], errors="coerce").fillna(0).astype(int),
            "category_id": latest["category_id"],
            "view_count": pd.to_numeric(latest["views"], errors="coerce").astype("Int64"),
        }
    )
    snapshots = pd.DataFrame(
        {
            "video_id": rows["video_id"],
            "channel_id": rows["channel_id"],
            "observed_at": rows["fetched_at"],
            "view_count": pd.to_numeric(rows["views"], errors="coerce").astype("Int64"),
        }
    )
    channels = latest.drop_duplicates("channel_id")[["channel_id", "channel_title"]].rename(
        columns={"channel_title": "title"}
    )
    channels = channels.assign(handle=None, published_at=pd.NaT)
    return ChannelFrames(channels, videos, snapshots, _empty_channel_snapshots())


def evaluate(name: str, frames: ChannelFrames, horizon: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = train_forecaster(frames, ForecastOptions(horizon_days=horizon))
    except DataQualityError as exc:
        return {"dataset": name, "horizon_days": horizon, "skipped": str(exc)}
    report = result.report
    return {
        "dataset": name,
        "horizon_days": horizon,
        "videos": len(frames.videos),
        "channels": int(frames.videos["channel_id"].nunique()),
        "training_rows": result.data_window["n_videos"],
        "share_of_test_at_horizon": round(report.share_at_horizon, 3),
        "train_s": round(time.perf_counter() - started, 1),
        "n_test": report.n_test,
        "mae_log": {
            "model": round(report.model.mae, 4),
            "channel_median": round(report.baseline_channel_median.mae, 4),
            "channel_median_x_age_curve": round(report.baseline_age_curve.mae, 4),
            "channel_median_at_horizon": round(report.baseline_horizon_prior.mae, 4),
        },
        "median_ape_log_pct": {
            "model": round(report.model.median_ape, 3),
            "channel_median": round(report.baseline_channel_median.median_ape, 3),
            "channel_median_x_age_curve": round(report.baseline_age_curve.median_ape, 3),
        },
        "gain_vs_channel_median": round(report.gain_over(report.baseline_channel_median), 4),
        "gain_vs_age_curve": round(report.gain_over(report.baseline_age_curve), 4),
        "coverage": {f"{i.level:.2f}": round(i.coverage, 4) for i in report.intervals},
        "mean_width_log": {f"{i.level:.2f}": round(i.mean_width, 3) for i in report.intervals},
        "split_bounds": report.split_bounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--horizons", type=float, nargs="*", default=[7.0, 2.0])
    parser.add_argument("--data", type=Path, default=REAL)
    args = parser.parse_args()
    output: dict[str, Any] = {
        "benchmark": "predict_real",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": [],
    }
    sources = {
        "yt-channel-tracker-2026": tracker_frames,
        "yt-trending-daily-2026": trending_frames,
    }
    for name, build in sources.items():
        folder = args.data / name
        if not folder.is_dir():
            output["results"].append({"dataset": name, "skipped": f"{folder} is absent"})
            continue
        frames = build(folder)
        for horizon in args.horizons:
            output["results"].append(evaluate(name, frames, horizon))
    print(json.dumps(output, indent=2))


if __name__ == "__main__":
    main()
