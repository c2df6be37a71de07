"""A/B tests over videos: planted effects are found with honest intervals, absent ones are not
found more often than the nominal 5%, and small or odd inputs give readable typed answers."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower

from tubescope.analysis.abtest import (
    AbTestOptions,
    AbTestResult,
    Metric,
    compare_views,
    run_ab_test,
    views_at_age,
)
from tubescope.analysis.frames import ChannelFrames
from tubescope.domain.durations import parse_duration_seconds
from tubescope.errors import ConfigError, DataQualityError, InvalidQuery

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REAL_VIDEOS = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "yt-channel-tracker-2026"
)
FAST = AbTestOptions(n_bootstrap=200)


def synthetic_frames(
    seed: int,
    *,
    n: int = 240,
    question_lift: float = 1.0,
    question_share: float = 0.3,
    shorts_share: float = 0.0,
    shorts_multiplier: float = 1.0,
    question_shorts_bias: float = 0.0,
    snapshot_every_days: float | None = 1.0,
    sigma: float = 0.8,
) -> ChannelFrames:
    """A channel whose final views are lognormal x planted multipliers, with daily snapshots
    following a saturating curve (half-life of about 2 days), so views at age 7 carry the lift."""
    rng = np.random.default_rng(seed)
    is_short = rng.random(n) < shorts_share
    question = rng.random(n) < np.clip(question_share + question_shorts_bias * is_short, 0, 1)
    final = (
        np.exp(rng.normal(math.log(5000), sigma, n))
        * np.where(question, question_lift, 1.0)
        * np.where(is_short, shorts_multiplier, 1.0)
    )
    published = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 330, n), unit="D")
    ids = [f"vid{seed % 1000:03d}{i:05d}" for i in range(n)]
    age_now = (pd.Timestamp(NOW) - published) / pd.Timedelta(days=1)
    videos = pd.DataFrame(
        {
            "video_id": ids,
            "channel_id": "UCsynthetic0000000000000",
            "title": [
                ("Why does it work? #" if q else "How it works #") + str(i) for i, q in enumerate(question)
            ],
            "published_at": published,
            "duration_seconds": np.where(is_short, 40.0, 700.0),
            "video_format": np.where(is_short, "short", "long"),
            "tags": "",
            "tag_count": 0,
            "category_id": "28",
            "view_count": pd.array(np.round(final * _curve(age_now.to_numpy())), dtype="Int64"),
            "like_count": pd.array([None] * n, dtype="Int64"),
            "comment_count": pd.array([None] * n, dtype="Int64"),
            "is_deleted": False,
        }
    )
    rows: list[tuple[str, pd.Timestamp, int]] = []
    if snapshot_every_days is not None:
        offsets = rng.uniform(0, snapshot_every_days, n)
        for i in range(n):
            ages = np.arange(offsets[i], 20.0, snapshot_every_days)
            for age in ages:
                rows.append(
                    (ids[i], published[i] + pd.Timedelta(days=float(age)), round(final[i] * _curve(age)))
                )
    snapshots = pd.DataFrame(rows, columns=["video_id", "observed_at", "view_count"])
    snapshots["channel_id"] = "UCsynthetic0000000000000"
    snapshots["view_count"] = snapshots["view_count"].astype("Int64")
    return ChannelFrames(pd.DataFrame(), videos, snapshots, pd.DataFrame())


def _curve(age_days: np.ndarray | float) -> np.ndarray:
    """Most views in the first days, then a slow tail that keeps rewarding older videos."""
    age = np.asarray(age_days, dtype="float64")
    return np.asarray(0.6 * (1 - np.exp(-age / 3.0)) + 0.4 * (1 - np.exp(-age / 120.0)))


def test_a_planted_title_lift_is_found_with_an_interval_covering_it() -> None:
    frames = synthetic_frames(0, question_lift=1.5, n=400)
    result = run_ab_test(frames, "title contains '?'", now=NOW, rng=1)
    assert result.metric is Metric.VIEWS_AT_AGE
    headline = result.headline
    assert headline is not None and headline.statistics is not None
    s = headline.statistics
    assert s.significant and s.welch_p < 0.01 and s.mann_whitney_p < 0.05
    assert s.lift_ci_low < 1.5 < s.lift_ci_high
    assert s.median_ratio_ci_low is not None and s.median_ratio_ci_high is not None
    assert s.median_ratio_ci_low < 1.5 < s.median_ratio_ci_high
    assert s.cohens_d > 0.2
    assert headline.group_a.n + headline.group_b.n == 400
    assert result.verdict.startswith("Long videos: Videos where title contains '?' get ")
    assert f"{s.lift:.2f}x the views at age 7 days of the rest (95% CI" in result.verdict
    assert f"n={headline.group_a.n} vs {headline.group_b.n}" in result.verdict
    assert "significant at 5% (Welch p" in result.verdict


def test_the_lift_interval_covers_the_truth_at_about_its_nominal_rate() -> None:
    covered = 0
    trials = 120
    for seed in range(trials):
        a = np.exp(np.random.default_rng(seed).normal(8, 0.9, 30)) * 1.3
        b = np.exp(np.random.default_rng(seed + 10_000).normal(8, 0.9, 70))
        s = compare_views(a, b, rng=seed, options=FAST).statistics
        assert s is not None
        covered += s.lift_ci_low <= 1.3 <= s.lift_ci_high
    # 95% nominal; binomial sd over 120 trials is 2 points: allow three of them.
    assert abs(covered / trials - 0.95) <= 0.06, covered


def test_no_effect_is_found_at_the_nominal_false_positive_rate() -> None:
    trials, rejected = 200, 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        views = np.round(np.exp(rng.normal(8, 1.0, 120)))
        in_a = rng.random(120) < 0.35
        comparison = compare_views(views[in_a], views[~in_a], rng=seed, options=FAST)
        assert comparison.statistics is not None
        rejected += comparison.statistics.significant
    # Binomial(200, 0.05): mean 10, sd 3.1; three sd either side.
    assert 1 <= rejected <= 19, rejected


def test_random_splits_of_one_catalogue_are_rarely_called_significant() -> None:
    frames = synthetic_frames(11, question_lift=1.0, n=300, snapshot_every_days=None)
    rng = np.random.default_rng(5)
    rejected = 0
    for _ in range(60):
        split = pd.Series(rng.random(len(frames.videos)) < 0.5, index=frames.videos.index, name="coin says A")
        result = run_ab_test(frames, split, now=NOW, rng=rng, options=FAST)
        assert result.group_a == "coin says A"
        headline = result.headline
        assert headline is not None and headline.statistics is not None
        rejected += headline.statistics.significant
    assert rejected <= 9, rejected  # 3 expected; P(>9) is below 0.2% for a 5% test


def test_welch_statistics_equal_statsmodels_unequal_variance_t_test() -> None:
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    rng = np.random.default_rng(8)
    a = np.round(np.exp(rng.normal(6, 1.5, 30)))
    b = np.round(np.exp(rng.normal(6.5, 0.7, 55)))
    s = compare_views(a, b, rng=0, options=AbTestOptions(confidence=0.9)).statistics
    assert s is not None
    means = CompareMeans(DescrStatsW(np.log1p(a)), DescrStatsW(np.log1p(b)))
    t, p, df = means.ttest_ind(usevar="unequal")
    assert (s.welch_t, s.welch_p, s.welch_df) == pytest.approx((t, p, df), rel=1e-9)
    low, high = means.tconfint_diff(alpha=0.1, usevar="unequal")
    assert (s.lift_ci_low, s.lift_ci_high) == pytest.approx((math.exp(low), math.exp(high)), rel=1e-9)


def test_statistics_agree_with_independent_computations() -> None:
    rng = np.random.default_rng(3)
    a = np.round(np.exp(rng.normal(7, 1.2, 45)))
    b = np.round(np.exp(rng.normal(7.4, 0.8, 80)))
    s = compare_views(a, b, rng=0).statistics
    assert s is not None
    welch = stats.ttest_ind(np.log1p(a), np.log1p(b), equal_var=False)
    assert s.welch_p == pytest.approx(welch.pvalue, rel=1e-9)
    assert s.welch_t == pytest.approx(welch.statistic, rel=1e-9)
    assert s.mann_whitney_p == pytest.approx(stats.mannwhitneyu(a, b).pvalue, rel=1e-9)
    geometric = np.exp(np.mean(np.log1p(a)) - np.mean(np.log1p(b)))
    assert s.lift == pytest.approx(geometric)
    interval = welch.confidence_interval(0.95)
    assert s.lift_ci_low == pytest.approx(math.exp(interval.low))
    assert s.lift_ci_high == pytest.approx(math.exp(interval.high))
    assert s.median_ratio == pytest.approx(np.median(a) / np.median(b))
    log_a, log_b = np.log1p(a), np.log1p(b)
    pooled_sd = math.sqrt(
        ((a.size - 1) * np.var(log_a, ddof=1) + (b.size - 1) * np.var(log_b, ddof=1)) / (a.size + b.size - 2)
    )
    mde_d = TTestIndPower().solve_power(
        effect_size=None, nobs1=a.size, alpha=0.05, power=0.8, ratio=b.size / a.size
    )
    assert s.minimum_detectable_lift == pytest.approx(
        math.exp(float(np.ravel(mde_d)[0]) * pooled_sd), rel=1e-4
    )
    # A bigger effect than the minimum detectable one has at least the target power, a smaller one less.
    assert s.minimum_detectable_lift is not None and s.minimum_detectable_lift > 1
    assert (s.achieved_power >= 0.8) == (abs(math.log(s.lift)) >= math.log(s.minimum_detectable_lift))


def test_the_bootstrap_is_reproducible_with_the_same_seed() -> None:
    rng = np.random.default_rng(9)
    a, b = np.exp(rng.normal(8, 1, 40)), np.exp(rng.normal(8, 1, 60))
    first = compare_views(a, b, rng=42).statistics
    again = compare_views(a, b, rng=np.random.default_rng(42)).statistics
    other = compare_views(a, b, rng=43).statistics
    assert first is not None and again is not None and other is not None
    assert first.median_ratio_ci_low == again.median_ratio_ci_low
    assert first.median_ratio_ci_low != other.median_ratio_ci_low


def test_same_age_views_undo_the_head_start_of_older_videos() -> None:
    frames = synthetic_frames(21, n=200, question_lift=1.0)
    videos = frames.videos
    # Question titles are the young videos; they have had less time to collect views.
    young = pd.to_datetime(videos["published_at"], utc=True) > pd.Timestamp("2025-10-15", tz="UTC")
    assert young.sum() >= 10
    mask = pd.Series(young.to_numpy(), index=videos.index, name="published after 2025-10-15")
    with_snapshots = run_ab_test(frames, mask, now=NOW, rng=0)
    assert with_snapshots.metric is Metric.VIEWS_AT_AGE
    assert with_snapshots.headline is not None and with_snapshots.headline.statistics is not None
    assert not with_snapshots.headline.statistics.significant
    latest_only = run_ab_test(
        ChannelFrames(frames.channels, videos, frames.video_snapshots.iloc[:0], frames.channel_snapshots),
        mask,
        now=NOW,
        rng=0,
    )
    assert latest_only.metric is Metric.LATEST_VIEWS
    assert "older videos had longer" in latest_only.metric_description
    assert latest_only.headline is not None and latest_only.headline.statistics is not None
    assert latest_only.headline.statistics.lift < with_snapshots.headline.statistics.lift


def test_views_at_age_interpolates_between_snapshots() -> None:
    published = pd.Timestamp("2025-03-01", tz="UTC")
    videos = pd.DataFrame({"video_id": ["lin", "gap", "exact", "none"], "published_at": [published] * 4})
    snapshots = pd.DataFrame(
        {
            "video_id": ["lin", "lin", "gap", "gap", "exact"],
            "observed_at": [
                published + pd.Timedelta(days=6),
                published + pd.Timedelta(days=8.5),
                published + pd.Timedelta(days=1),
                published + pd.Timedelta(days=30),
                published + pd.Timedelta(days=7, minutes=20),
            ],
            "view_count": pd.array([600, 850, 100, 3000, 777], dtype="Int64"),
        }
    )
    at_seven = views_at_age(videos, snapshots, age_days=7, tolerance_days=2)
    assert at_seven.iloc[0] == pytest.approx(700.0)  # views grew 100 a day
    assert math.isnan(at_seven.iloc[1])  # snapshots too far apart to trust a straight line
    assert at_seven.iloc[2] == 777.0
    assert math.isnan(at_seven.iloc[3])


def test_formats_are_compared_apart_unless_the_test_is_about_format() -> None:
    # Shorts get 8x the views and most question titles are Shorts: pooled, '?' would look like a hit.
    frames = synthetic_frames(
        5, n=400, shorts_share=0.4, shorts_multiplier=8.0, question_shorts_bias=0.5, question_share=0.1
    )
    result = run_ab_test(frames, "title contains '?'", now=NOW, rng=0)
    assert [c.stratum for c in result.comparisons] == ["short", "long"]
    for comparison in result.comparisons:
        assert comparison.statistics is not None
        assert comparison.statistics.lift_ci_low < 1 < comparison.statistics.lift_ci_high
    pooled = compare_views(
        frames.videos["view_count"][frames.videos["title"].str.contains("?", regex=False)],
        frames.videos["view_count"][~frames.videos["title"].str.contains("?", regex=False)],
        rng=0,
    ).statistics
    assert pooled is not None and pooled.significant and pooled.lift > 2

    by_format = run_ab_test(frames, "format = short", "format = long", now=NOW, rng=0)
    assert [c.stratum for c in by_format.comparisons] == ["all formats"]
    s = by_format.comparisons[0].statistics
    assert s is not None and s.lift_ci_low < 8 < s.lift_ci_high
    assert by_format.verdict.startswith("Videos where format = short get ")
    assert "of videos where format = long" in by_format.verdict


def test_small_groups_give_a_typed_insufficient_data_answer() -> None:
    frames = synthetic_frames(2, n=60)
    few = ", ".join(f"'{video_id}'" for video_id in frames.videos["video_id"][:3])
    result = run_ab_test(frames, f"video_id in ({few})", now=NOW, rng=0)
    comparison = result.comparisons[0]
    assert comparison.status == "insufficient_data"
    assert comparison.statistics is None
    assert result.headline is None
    assert "Not enough videos to compare" in result.verdict
    assert "need at least 5 in each group" in result.verdict
    # Everything a caller gets is plain JSON.
    decoded = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert decoded["comparisons"][0]["status"] == "insufficient_data"
    assert decoded["headline_stratum"] is None

    none_match = run_ab_test(frames, "title contains 'no video has this'", now=NOW, rng=0)
    assert none_match.headline is None and "n=0 vs" in none_match.verdict


def test_a_non_significant_result_says_what_could_have_been_detected() -> None:
    frames = synthetic_frames(8, n=80, question_lift=1.0)
    result = run_ab_test(frames, "title contains '?'", now=NOW, rng=0)
    headline = result.headline
    assert headline is not None and headline.statistics is not None
    assert not headline.statistics.significant
    assert result.verdict.startswith(
        "Long videos: No reliable difference between videos where title contains '?' and the rest"
    )
    assert "would be detected reliably" in result.verdict
    payload = result.to_dict()
    assert payload["verdict"] == result.verdict
    assert json.loads(json.dumps(payload, allow_nan=False))["metric"] == "views_at_age"


def test_overlapping_groups_leave_the_shared_videos_out() -> None:
    frames = synthetic_frames(4, n=200)
    result = run_ab_test(frames, "title contains '1'", "title contains '2'", now=NOW, rng=0)
    titles = frames.videos["title"]
    both = titles.str.contains("1") & titles.str.contains("2")
    only_one = titles.str.contains("1") & ~both
    assert result.excluded_in_both == both.sum() > 0
    assert any(f"{both.sum()} videos match both groups" in note for note in result.notes)
    headline = result.headline
    assert headline is not None
    assert headline.group_a.n == only_one.sum()


def test_young_and_deleted_videos_are_left_out() -> None:
    frames = synthetic_frames(6, n=100, snapshot_every_days=None)
    videos = frames.videos.copy()
    videos.loc[:9, "is_deleted"] = True
    videos.loc[10:14, "published_at"] = pd.Timestamp(NOW) - pd.Timedelta(days=2)
    result = run_ab_test(
        ChannelFrames(frames.channels, videos, frames.video_snapshots, frames.channel_snapshots),
        "views >= 0",
        "views < 0",
        now=NOW,
        rng=0,
    )
    assert result.comparisons[0].group_a.n == 85
    assert any("younger than 7 days" in note for note in result.notes)


def test_bad_filters_and_options_raise_typed_errors() -> None:
    frames = synthetic_frames(1, n=30)
    with pytest.raises(InvalidQuery, match="expected a value after '>' at column 11"):
        run_ab_test(frames, "duration >", now=NOW)
    with pytest.raises(InvalidQuery, match="aligned"):
        run_ab_test(frames, pd.Series([True, False]), now=NOW)
    with pytest.raises(ConfigError):
        AbTestOptions(confidence=1.5)
    with pytest.raises(ConfigError, match="timezone-aware"):
        run_ab_test(frames, "duration > 5", now=datetime(2026, 1, 1))
    without_views = ChannelFrames(
        frames.channels,
        frames.videos.drop(columns=["view_count"]),
        frames.video_snapshots,
        frames.channel_snapshots,
    )
    with pytest.raises(DataQualityError, match="view_count"):
        run_ab_test(without_views, "duration > 5", now=NOW)


def test_a_test_on_real_videos_gives_a_readable_answer() -> None:
    path = REAL_VIDEOS / "videos_2026-02.csv"
    if not path.exists():
        pytest.skip(f"real data not available at {path}")
    raw = pd.read_csv(path, encoding="utf-8-sig", dtype={"category_id": "string"})
    durations = pd.Series(
        [parse_duration_seconds(d) if isinstance(d, str) else None for d in raw["duration_iso8601"]],
        dtype="float64",
    )
    videos = pd.DataFrame(
        {
            "video_id": raw["video_id"],
            "channel_id": raw["channel_id"],
            "title": raw["title"],
            "published_at": pd.to_datetime(raw["published_at"], utc=True),
            "duration_seconds": durations,
            "video_format": np.where(durations.isna(), "live", np.where(durations <= 180, "short", "long")),
            "view_count": raw["view_count"].astype("Int64"),
            "is_deleted": False,
        }
    )
    frames = ChannelFrames(
        pd.DataFrame(),
        videos,
        pd.DataFrame(columns=["video_id", "observed_at", "view_count"]),
        pd.DataFrame(),
    )
    result = run_ab_test(frames, "title contains '?'", now=datetime(2026, 2, 4, tzinfo=UTC), rng=0)
    assert result.metric is Metric.LATEST_VIEWS
    assert [c.stratum for c in result.comparisons] == ["short", "long", "live"]
    headline = result.headline
    assert headline is not None and headline.stratum in {"short", "long"}
    assert headline.statistics is not None
    assert headline.statistics.lift_ci_low < headline.statistics.lift < headline.statistics.lift_ci_high
    json.dumps(result.to_dict(), allow_nan=False)


# --- truth from the emulator's world ---------------------------------------------------------

WORLD_AT = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world_results() -> list[tuple[float, AbTestResult]]:
    """The '?' test on each of 40 emulator channels, with the lift the world planted there."""
    from tubescope.emulator.world import World
    from tubescope.testing import world_frames

    world = World(seed=22, n_channels=40)
    results = []
    for index in range(40):
        truth = world.channel_truth(index)
        assert truth.title_feature == "question_mark"
        frames = ChannelFrames(**world_frames(world, [truth.channel_id], [WORLD_AT]))
        if len(frames.videos) < 40:
            continue
        result = run_ab_test(frames, "title contains '?'", now=WORLD_AT, rng=index, options=FAST)
        results.append((truth.title_lift, result))
    return results


def test_the_worlds_planted_title_lifts_are_found_and_covered(
    world_results: list[tuple[float, AbTestResult]],
) -> None:
    planted = [
        (lift, result.headline.statistics)
        for lift, result in world_results
        if lift > 1 and result.headline is not None and result.headline.statistics is not None
        and min(result.headline.group_a.n, result.headline.group_b.n) >= 30
    ]  # fmt: skip
    assert len(planted) >= 8
    covered = sum(s.lift_ci_low <= lift <= s.lift_ci_high for lift, s in planted)
    strong = [(lift, s) for lift, s in planted if lift >= 1.3]
    found = sum(s.significant and s.lift > 1 for _, s in strong)
    # Nominal coverage is 95%; the world's breakout videos (x10) make small strata heavy-tailed,
    # and across two 60-channel worlds we measured 83%: hold the line a little below that.
    assert covered / len(planted) >= 0.75, [(lift, s.lift_ci_low, s.lift_ci_high) for lift, s in planted]
    assert found >= len(strong) - 1, [(lift, s.lift, s.welch_p) for lift, s in strong]


def test_no_title_lift_is_found_where_none_was_planted(
    world_results: list[tuple[float, AbTestResult]],
) -> None:
    null = [result for lift, result in world_results if lift == 1.0 and result.headline is not None]
    assert len(null) >= 12
    rejected = sum(
        bool(r.headline and r.headline.statistics and r.headline.statistics.significant) for r in null
    )
    # 5% expected; 2 + 10% of the channels is more than three binomial sd above that here.
    assert rejected <= 2 + 0.1 * len(null), rejected


def test_random_splits_of_a_world_channel_reject_at_about_five_percent() -> None:
    from tubescope.emulator.world import World
    from tubescope.testing import world_frames

    world = World(seed=22, n_channels=40)
    channel_id = max(range(40), key=lambda i: world.channel_truth(i).uploads_per_week)
    frames = world_frames(world, [world.channel_id(channel_id)], [WORLD_AT])
    videos = frames["videos"]
    views = videos.loc[videos["video_format"] == "long", "view_count"].to_numpy(dtype="float64")
    assert views.size >= 100
    rng = np.random.default_rng(0)
    rejected = 0
    for split in range(200):
        in_a = rng.random(views.size) < 0.5
        comparison = compare_views(views[in_a], views[~in_a], rng=split, options=FAST)
        assert comparison.statistics is not None
        rejected += comparison.statistics.significant
    assert 2 <= rejected <= 19, rejected  # Binomial(200, 0.05): 10 expected, three sd either side


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="n_bootstrap must be at least 100, not 50"):
        AbTestOptions(n_bootstrap=50)
    with pytest.raises(ConfigError, match="min_group_size must be at least 2, not 1"):
        AbTestOptions(min_group_size=1)


def test_groups_without_any_variation_are_not_compared() -> None:
    comparison = compare_views([1000] * 8 + [float("nan"), -1], [1000] * 9, rng=0, options=FAST)
    assert comparison.status == "insufficient_data" and comparison.statistics is None
    assert (comparison.group_a.n, comparison.group_b.n) == (8, 9)  # NaN and negative views dropped
    assert (
        comparison.verdict == "Not enough variation to compare: every video in each group has the same views."
    )


def test_views_given_once_for_several_comparisons_give_the_same_results() -> None:
    from tubescope.analysis.abtest import same_age_views

    frames = synthetic_frames(3, question_lift=1.3, n=300)
    at_age = same_age_views(frames)
    assert at_age.notna().any()
    for expression in ("title contains '?'", "tag_count >= 10", "format = short"):
        alone = run_ab_test(frames, expression, now=NOW, rng=0)
        shared = run_ab_test(frames, expression, now=NOW, rng=0, at_age=at_age)
        assert shared.to_dict() == alone.to_dict()
    with pytest.raises(InvalidQuery):
        run_ab_test(frames, "title contains '?'", now=NOW, at_age=at_age.iloc[1:])
