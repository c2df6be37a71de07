from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tubescope.analysis.same_age import OUTLIER_SCORE_DEFINITION, analyze_same_age, views_at_ages

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def _frames(rates: dict[str, float], formats: dict[str, str], published: dict[str, datetime],
            snapshot_hours: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Videos gaining ``rate`` views an hour, observed ``snapshot_hours`` after publishing."""
    videos = pd.DataFrame(
        {
            "video_id": list(rates),
            "published_at": pd.to_datetime([published[v] for v in rates], utc=True),
            "video_format": [formats[v] for v in rates],
        }
    )
    rows = [
        (v, published[v] + timedelta(hours=h), int(rate * h))
        for v, rate in rates.items()
        for h in snapshot_hours
        if published[v] + timedelta(hours=h) <= NOW
    ]
    snaps = pd.DataFrame(rows, columns=["video_id", "observed_at", "view_count"])
    snaps["observed_at"] = pd.to_datetime(snaps["observed_at"], utc=True)
    return videos, snaps


def test_views_at_age_are_interpolated_between_bracketing_snapshots() -> None:
    old = NOW - timedelta(days=60)
    videos, snaps = _frames({"a": 100.0}, {"a": "long"}, {"a": old}, [5, 30, 150, 190, 600, 700])
    at = views_at_ages(videos, snaps, NOW)
    assert at.loc["a", "24h"] == pytest.approx(2400)
    assert at.loc["a", "7d"] == pytest.approx(16_800)
    assert at.loc["a", "28d"] == pytest.approx(67_200)


def test_nothing_is_extrapolated_and_wide_brackets_are_refused() -> None:
    young = NOW - timedelta(days=3)
    old = NOW - timedelta(days=60)
    videos, snaps = _frames(
        {"young": 10.0, "sparse": 10.0}, {"young": "long", "sparse": "long"}, {"young": young, "sparse": old},
        [20, 30],
    )  # fmt: skip
    at = views_at_ages(videos, snaps, NOW)
    assert at.loc["young", "24h"] == pytest.approx(240)
    assert np.isnan(at.loc["young", "7d"])  # three days old: no 7-day value
    assert np.isnan(at.loc["sparse", "7d"])  # last snapshot at 30 h: no extrapolation
    # The publish instant anchors the curve at zero: a first snapshot at 20 h brackets 10 h.
    assert views_at_ages(videos, snaps, NOW, (("10h", 10.0),)).loc["sparse", "10h"] == pytest.approx(100)
    videos2, snaps2 = _frames({"gap": 10.0}, {"gap": "long"}, {"gap": old}, [1, 200])
    assert np.isnan(views_at_ages(videos2, snaps2, NOW).loc["gap", "24h"])  # bracket 1-200 h is too wide


def test_outlier_score_is_views_over_the_same_format_median_at_the_same_age() -> None:
    old = NOW - timedelta(days=60)
    rates = {"l1": 10.0, "l2": 20.0, "l3": 30.0, "l4": 300.0, "s1": 1.0, "s2": 2.0, "s3": 3.0}
    formats = {v: ("short" if v.startswith("s") else "long") for v in rates}
    videos, snaps = _frames(rates, formats, dict.fromkeys(rates, old), [12, 24, 168, 672, 800])
    result = analyze_same_age(videos, snaps, NOW)
    assert result.definition == OUTLIER_SCORE_DEFINITION and "median" in result.definition
    frame = result.frame().set_index(["video_id", "age_label"])
    # Long median at 7 d: median(1680, 3360, 5040, 50400) = 4200; Shorts have their own median.
    assert frame.loc[("l4", "7d"), "outlier_score"] == pytest.approx(50_400 / 4200)
    assert frame.loc[("s3", "7d"), "outlier_score"] == pytest.approx(1.5)
    assert frame.loc[("l4", "7d"), "band"] == "top 25%" and frame.loc[("l1", "7d"), "band"] == "bottom 25%"
    assert frame.loc[("l4", "24h"), "percentile"] == pytest.approx(87.5)
    medians = {(m.video_format, m.age_label): m.median_views for m in result.medians}
    assert medians[("short", "24h")] == pytest.approx(48)
    assert medians[("live", "24h")] is None
    perf = result.performance_index()
    assert perf.loc["l4", "basis"] == "same_age_7d"
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["derived"] is True and all(r["derived"] for r in payload["rows"])


def test_percentile_bands_cover_a_large_format_group() -> None:
    old = NOW - timedelta(days=60)
    rates = {f"v{i:03d}": float(i + 1) for i in range(100)}
    videos, snaps = _frames(rates, dict.fromkeys(rates, "long"), dict.fromkeys(rates, old), [24])
    frame = analyze_same_age(videos, snaps, NOW).frame().set_index("video_id")
    assert frame.loc["v099", "band"] == "top 10%" and frame.loc["v000", "band"] == "bottom 10%"
    assert frame.loc["v050", "band"] == "middle 50%"
    assert frame["band"].value_counts()["top 10%"] == 10


@settings(max_examples=40, deadline=None)
@given(
    increments=st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=12),
    gaps=st.lists(st.floats(min_value=1.0, max_value=40.0), min_size=12, max_size=12),
)
def test_interpolated_views_never_leave_the_bracketing_snapshots(
    increments: list[int], gaps: list[float]
) -> None:
    published = NOW - timedelta(days=90)
    hours = np.cumsum(gaps[: len(increments)])
    views = np.cumsum(increments)
    videos = pd.DataFrame({"video_id": ["p"], "published_at": pd.to_datetime([published], utc=True),
                           "video_format": ["long"]})  # fmt: skip
    snaps = pd.DataFrame(
        {
            "video_id": "p",
            "observed_at": pd.to_datetime([published + timedelta(hours=float(h)) for h in hours], utc=True),
            "view_count": views,
        }
    )
    ages = (("a", 5.0), ("b", 24.0), ("c", 100.0))
    at = views_at_ages(videos, snaps, NOW, ages)
    known_hours = np.concatenate([[0.0], hours])
    known_views = np.concatenate([[0], views])
    for label, age in ages:
        value = at.loc["p", label]
        if age > known_hours[-1]:
            assert np.isnan(value)  # never extrapolated
            continue
        if np.isnan(value):
            continue  # a bracket too wide to trust
        upper = int(np.searchsorted(known_hours, age))
        lower = max(upper - 1, 0)
        assert known_views[lower] - 1e-6 <= value <= known_views[upper] + 1e-6


def test_an_observed_early_point_stands_in_place_of_the_interpolation() -> None:
    published = NOW - timedelta(days=5)
    videos, snaps = _frames({"a": 100.0, "b": 100.0}, {"a": "long", "b": "long"},
                            {"a": published, "b": published}, [20, 30])  # fmt: skip
    points = pd.DataFrame(
        {
            "video_id": ["a", "a"],
            "slot_hours": [24.0, 72.0],
            "view_count": [5000, 9000],
            "observed_at": pd.to_datetime(
                [published + timedelta(hours=24.5), NOW + timedelta(hours=1)], utc=True
            ),
        }
    )
    at = views_at_ages(videos, snaps, NOW, early_points=points)
    assert at.loc["a", "24h"] == 5000  # the sample taken at 24 h, not 2400 interpolated
    assert at.loc["b", "24h"] == pytest.approx(2400)
    result = analyze_same_age(videos, snaps, NOW, (("24h", 24.0), ("72h", 72.0)), points)
    rows = {(r.video_id, r.age_label): r for r in result.rows}
    assert rows[("a", "24h")].observed and not rows[("b", "24h")].observed
    assert rows[("a", "24h")].outlier_score == pytest.approx(5000 / 3700)
    assert ("a", "72h") not in rows  # a sample taken after ``now`` is not seen yet


def test_performance_index_is_computed_once_and_handed_out_as_copies() -> None:
    from tubescope.analysis.same_age import FormatAgeMedian, SameAgeResult, SameAgeRow

    rows = tuple(
        SameAgeRow(f"v{i}", "long", label, hours, 100.0 * (i + 1), 50.0, "middle 50%", 0.5 + i)
        for i in range(3)
        for label, hours in (("24h", 24.0), ("7d", 168.0))
    )
    result = SameAgeResult(("24h", "7d"), (FormatAgeMedian("long", "24h", 3, 200.0),), rows)
    first = result.performance_index(preferred=("7d", "24h"))
    assert list(first["basis"]) == ["same_age_7d"] * 3 and list(first["score"]) == [0.5, 1.5, 2.5]
    first.loc["v0", "score"] = -1.0  # a caller's change does not reach the next caller
    assert result.performance_index(preferred=("7d", "24h"))["score"].tolist() == [0.5, 1.5, 2.5]
    assert result.performance_index(preferred=["24h"])["basis"].tolist() == ["same_age_24h"] * 3  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("percentile", "band"),
    [(100, "top 10%"), (90, "top 10%"), (89.9, "top 25%"), (75, "top 25%"), (74.9, "middle 50%"),
     (25.1, "middle 50%"), (25, "bottom 25%"), (10.1, "bottom 25%"), (10, "bottom 10%"), (0, "bottom 10%")],
)  # fmt: skip
def test_percentile_bands_have_closed_top_edges(percentile: float, band: str) -> None:
    from tubescope.analysis.same_age import band_of

    assert band_of(percentile) == band


def test_an_early_age_is_not_read_off_a_line_to_a_snapshot_days_later() -> None:
    # Early views grow fastest: a line from the publish instant to a snapshot 40 h later puts the
    # 1 h value far below the truth, so it is refused; a snapshot 10 h later is close enough.
    published = NOW - timedelta(days=5)
    names = ["first_at_40h", "first_at_10h"]
    videos, _ = _frames(
        dict.fromkeys(names, 100.0), dict.fromkeys(names, "long"), dict.fromkeys(names, published), []
    )
    snaps = pd.DataFrame(
        {
            "video_id": ["first_at_40h", "first_at_10h"],
            "observed_at": pd.to_datetime(
                [published + timedelta(hours=40), published + timedelta(hours=10)], utc=True
            ),
            "view_count": [4000, 1000],
        }
    )
    at = views_at_ages(videos, snaps, NOW, (("1h", 1.0), ("24h", 24.0)))
    assert np.isnan(at.loc["first_at_40h", "1h"])
    assert at.loc["first_at_40h", "24h"] == pytest.approx(2400)  # 40 h is close enough to 24 h
    assert at.loc["first_at_10h", "1h"] == pytest.approx(100)
