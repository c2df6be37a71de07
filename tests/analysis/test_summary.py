from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.analysis.planted_frames import NOW, Planted, PlantedChannel, build_channel, combine
from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.summary import (
    FLEET_KPI_COLUMNS,
    analyze_channel,
    channel_kpis_duckdb,
    fleet_kpis,
    fleet_kpis_duckdb,
    fleet_kpis_sql,
)
from tubescope.errors import ChannelNotFound, ConfigError, DataQualityError

CHANNEL = "UCplanted000000000000000"


@pytest.fixture(scope="module")
def planted() -> PlantedChannel:
    return build_channel(Planted(weekday_lift={1: 2.0}, seed=21, n_videos=280))


def test_full_channel_analysis_bundles_every_part_and_is_json_safe(planted: PlantedChannel) -> None:
    result = analyze_channel(planted.frames, CHANNEL, NOW)
    assert result.title == "Planted channel" and result.n_videos == 280
    assert result.timing.weekday.best == "Tuesday" and result.timing.weekday.significant
    flagged, truth = set(result.outliers.breakouts()), set(planted.breakout_ids)
    assert truth <= flagged and len(truth) / len(flagged) >= 0.85  # Tuesday's x2 lift adds a borderline one
    assert result.engagement.stats("all").n_hidden_likes > 0
    assert result.growth.rate("views", 28).rate is not None
    assert result.cadence.stats("all").n_uploads == 280
    assert result.same_age.definition.startswith("outlier_score = views at age a")
    # The companion modules (time series, A/B tests) are present in this checkout: their results ride along.
    for extra in ("timeseries", "ab_question_titles"):
        assert extra in result.extras and "error" not in result.extras[extra]
    text = json.dumps(result.to_dict(), allow_nan=False)
    payload = json.loads(text)
    assert "derived" in payload["derived_note"]
    for part in ("engagement", "growth", "same_age", "cadence", "outliers", "correlation"):
        assert payload[part]["derived"] is True


def test_since_and_now_bound_what_is_analysed(planted: PlantedChannel) -> None:
    earlier = NOW - timedelta(days=100)
    since = NOW - timedelta(days=200)
    result = analyze_channel(planted.frames, CHANNEL, earlier, since=since)
    published = planted.frames.videos["published_at"]
    assert result.n_videos == int(((published >= since) & (published <= earlier)).sum())
    assert result.growth.as_of is not None and pd.Timestamp(result.growth.as_of) <= earlier


def test_bad_requests_raise_typed_errors(planted: PlantedChannel) -> None:
    with pytest.raises(ChannelNotFound):
        analyze_channel(planted.frames, "UCmissing", NOW)
    with pytest.raises(ConfigError):
        analyze_channel(planted.frames, CHANNEL, datetime(2026, 1, 1))
    with pytest.raises(ConfigError, match="since"):
        analyze_channel(planted.frames, CHANNEL, NOW, since=NOW)
    broken = ChannelFrames(
        planted.frames.channels, planted.frames.videos.drop(columns=["published_at"]),
        planted.frames.video_snapshots, planted.frames.channel_snapshots,
    )  # fmt: skip
    with pytest.raises(DataQualityError, match="published_at"):
        analyze_channel(broken, CHANNEL, NOW)


def _fleet_frames() -> ChannelFrames:
    a = build_channel(Planted(channel_id="UCaaaa00000000000000000001", seed=1, n_videos=60, days=150))
    b = build_channel(
        Planted(
            channel_id="UCbbbb00000000000000000002", seed=2, n_videos=40, days=120, hidden_likes_share=0.5
        )
    )
    c = build_channel(Planted(channel_id="UCcccc00000000000000000003", seed=3, n_videos=30, days=20))
    frames = combine(a, b, c)
    channel_snaps = frames.channel_snapshots.copy()
    hidden = channel_snaps["channel_id"] == "UCbbbb00000000000000000002"
    channel_snaps.loc[hidden, "subscriber_count"] = pd.NA  # a hidden subscriber count
    # A snapshot after "now" must be ignored by both implementations.
    future = channel_snaps.iloc[[0]].assign(observed_at=NOW + timedelta(days=3), view_count=10**12)
    # Likes visible for weeks, then hidden at the latest snapshot: the latest (hidden) state counts.
    video_snaps = frames.video_snapshots.copy()
    first_video = video_snaps["video_id"].iloc[0]
    last_row = video_snaps.index[video_snaps["video_id"] == first_video][-1]
    video_snaps.loc[last_row, "like_count"] = pd.NA
    return ChannelFrames(frames.channels, frames.videos, video_snaps, pd.concat([channel_snaps, future]))


def _to_duckdb(frames: ChannelFrames, path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for name, frame in (
        ("videos", frames.videos), ("video_snapshots", frames.video_snapshots),
        ("channel_snapshots", frames.channel_snapshots),
    ):  # fmt: skip
        con.register("incoming", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")  # noqa: S608 - fixed names
        con.unregister("incoming")
    return con


def test_fleet_kpis_in_duckdb_equal_the_pandas_computation(tmp_path: Path) -> None:
    frames = _fleet_frames()
    expected = fleet_kpis(frames, NOW)
    con = _to_duckdb(frames, tmp_path / "fleet.duckdb")
    got = fleet_kpis_duckdb(con, NOW)
    assert list(got.columns) == list(FLEET_KPI_COLUMNS) == list(expected.columns)
    assert list(got["channel_id"]) == list(expected["channel_id"]) and len(got) == 3
    for column in FLEET_KPI_COLUMNS[2:]:
        assert np.allclose(
            got[column].to_numpy(dtype=float),
            expected[column].to_numpy(dtype=float),
            rtol=1e-9,
            equal_nan=True,
        ), column
    assert (got["as_of"] == expected["as_of"]).all()
    row = expected.set_index("channel_id")
    assert np.isnan(row.loc["UCbbbb00000000000000000002", "subscriber_count"])  # hidden, not 0
    assert row.loc["UCbbbb00000000000000000002", "n_hidden_likes"] > 10
    videos_a = frames.videos[frames.videos["channel_id"] == "UCaaaa00000000000000000001"]
    assert row.loc["UCaaaa00000000000000000001", "n_hidden_likes"] == videos_a["like_count"].isna().sum() + 1
    assert np.isnan(row.loc["UCcccc00000000000000000003", "view_growth_28d"])  # 20 days of history
    assert row.loc["UCaaaa00000000000000000001", "total_views"] < 10**12  # the future snapshot ignored
    one = fleet_kpis_duckdb(con, NOW, channel_id="UCaaaa00000000000000000001")
    assert len(one) == 1
    assert np.allclose(
        one.iloc[0][list(FLEET_KPI_COLUMNS[2:])].to_numpy(dtype=float),
        row.loc["UCaaaa00000000000000000001", list(FLEET_KPI_COLUMNS[2:])].to_numpy(dtype=float),
        rtol=1e-9,
        equal_nan=True,
    )
    for channel_id in expected["channel_id"]:
        fast = channel_kpis_duckdb(con, channel_id, NOW)
        assert list(fast.columns) == list(FLEET_KPI_COLUMNS)
        assert fast.iloc[0]["as_of"] == row.loc[channel_id, "as_of"]
        assert np.allclose(
            fast.iloc[0][list(FLEET_KPI_COLUMNS[2:])].to_numpy(dtype=float),
            row.loc[channel_id, list(FLEET_KPI_COLUMNS[2:])].to_numpy(dtype=float),
            rtol=1e-9,
            equal_nan=True,
        ), channel_id
    con.close()


def test_fleet_kpi_sql_refuses_odd_table_names() -> None:
    assert "$channel_id" in fleet_kpis_sql(one_channel=True)
    with pytest.raises(ConfigError):
        fleet_kpis_sql(videos="videos; DROP TABLE videos")


def test_a_failing_optional_companion_is_reported_not_raised() -> None:
    from tubescope.analysis.summary import _guarded

    assert _guarded(lambda: 1 / 0) == {"error": "ZeroDivisionError: division by zero"}
    assert _guarded(lambda: {"value": float("nan")}) == {"value": None}
