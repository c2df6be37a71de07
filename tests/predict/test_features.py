from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tubescope.analysis.frames import ChannelFrames
from tubescope.errors import ConfigError, DataQualityError
from tubescope.predict.features import FEATURE_NAMES, VideoFeatures, VideoRows, horizon_targets
from tubescope.predict.synthetic import SyntheticWorld


def _frames_one_video(snapshots: list[tuple[str, int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    videos = pd.DataFrame(
        {
            "video_id": ["vid00000001"],
            "channel_id": ["UCx"],
            "published_at": [pd.Timestamp("2026-01-01T00:00:00Z")],
            "video_format": ["long"],
        }
    )
    snaps = pd.DataFrame(
        {
            "video_id": "vid00000001",
            "observed_at": [pd.Timestamp(t) for t, _ in snapshots],
            "view_count": pd.array([v for _, v in snapshots], dtype="Int64"),
        }
    )
    return videos, snaps


def test_views_at_the_horizon_are_interpolated_between_bracketing_snapshots() -> None:
    videos, snaps = _frames_one_video(
        [("2026-01-06T00:00:00Z", 1000), ("2026-01-10T00:00:00Z", 2000), ("2026-01-30T00:00:00Z", 9000)]
    )
    targets = horizon_targets(videos, snaps, horizon_days=7.0)
    row = targets.loc["vid00000001"]
    # Day 7 is halfway from day 5 (1000 views) to day 9 (2000 views).
    assert row["interpolated"]
    assert row["age_days"] == 7.0
    assert np.expm1(row["log_views"]) == pytest.approx(1500.0)
    # Known only once the day-9 snapshot was taken.
    known = pd.Timestamp("2026-01-10T00:00:00Z") - pd.Timestamp("2000-01-01", tz="UTC")
    assert row["known_at_s"] == known.total_seconds()


def test_without_a_bracket_the_snapshot_nearest_the_horizon_is_used_with_its_age() -> None:
    videos, snaps = _frames_one_video([("2026-01-21T00:00:00Z", 5000), ("2026-03-01T00:00:00Z", 8000)])
    row = horizon_targets(videos, snaps, horizon_days=7.0).loc["vid00000001"]
    assert not row["interpolated"]
    assert row["age_days"] == pytest.approx(20.0)
    assert np.expm1(row["log_views"]) == pytest.approx(5000.0)


def test_snapshots_before_publication_are_ignored() -> None:
    videos, snaps = _frames_one_video([("2025-12-31T00:00:00Z", 999_999), ("2026-01-08T00:00:00Z", 700)])
    row = horizon_targets(videos, snaps, horizon_days=7.0).loc["vid00000001"]
    assert np.expm1(row["log_views"]) == pytest.approx(700.0)


def test_features_of_a_video_ignore_everything_observed_after_it_was_published(world: SyntheticWorld) -> None:
    frames = world.frames
    videos = frames.videos.sort_values("published_at")
    target = videos.iloc[len(videos) // 2]
    cutoff = target["published_at"]
    same_channel = videos[videos["channel_id"] == target["channel_id"]]
    before = VideoFeatures().fit(frames).transform(same_channel)

    # Multiply every view count observed after the cutoff by 50, and invent a big later upload.
    snaps = frames.video_snapshots.copy()
    later = snaps["observed_at"] > cutoff
    snaps.loc[later, "view_count"] = snaps.loc[later, "view_count"] * 50
    channel_snaps = frames.channel_snapshots.copy()
    channel_snaps.loc[channel_snaps["observed_at"] > cutoff, "subscriber_count"] = 10**9
    perturbed = ChannelFrames(frames.channels, frames.videos, snaps, channel_snaps)
    after = VideoFeatures().fit(perturbed).transform(same_channel)

    earlier_or_same = same_channel["published_at"] <= cutoff
    pd.testing.assert_frame_equal(before[earlier_or_same], after[earlier_or_same])
    # The perturbation is real: later videos' priors did change.
    assert not before[~earlier_or_same]["prior_median"].equals(after[~earlier_or_same]["prior_median"])


def test_priors_summarise_only_same_format_videos_known_before_publication(world: SyntheticWorld) -> None:
    features = VideoFeatures(prior_window=5).fit(world.frames)
    videos = world.frames.videos
    target = videos[videos["video_format"] == "long"].sort_values("published_at").iloc[400]
    t = features.targets_
    known_before = t[
        (t["channel_id"] == target["channel_id"])
        & (t["video_format"] == "long")
        & (t["known_at_s"] <= (target["published_at"] - pd.Timestamp("2000-01-01", tz="UTC")).total_seconds())
    ].sort_values("known_at_s")
    expected = known_before["log_views"].tail(5)
    row = features.transform(videos.loc[[target.name]]).iloc[0]
    assert row["prior_count"] == len(expected)
    assert row["prior_median"] == pytest.approx(float(np.median(expected)))
    assert row["prior_spread"] == pytest.approx(float(expected.quantile(0.75) - expected.quantile(0.25)))


def test_a_new_channel_gets_empty_priors_not_an_error(world: SyntheticWorld) -> None:
    features = VideoFeatures().fit(world.frames)
    new = pd.DataFrame(
        {
            "channel_id": ["UCnobody"],
            "title": ["Why is this NEW? 🤔"],
            "published_at": [pd.Timestamp("2026-02-01T18:00:00Z")],
            "duration_seconds": [600.0],
            "video_format": ["long"],
            "tag_count": [3],
        }
    )
    row = features.transform(new).iloc[0]
    assert list(row.index) == list(FEATURE_NAMES)
    assert np.isnan(row["prior_median"]) and row["prior_count"] == 0
    assert row["title_has_question"] == 1.0 and row["title_emoji_count"] == 1.0
    assert row["publish_hour"] == 18.0


def test_bad_inputs_raise_typed_errors(world: SyntheticWorld) -> None:
    with pytest.raises(ConfigError):
        VideoFeatures(horizon_days=0).fit(world.frames)
    features = VideoFeatures().fit(world.frames)
    bad = world.frames.videos.head(1).assign(video_format="podcast")
    with pytest.raises(DataQualityError, match="podcast"):
        features.transform(bad)
    with pytest.raises(DataQualityError, match="title"):
        features.transform(world.frames.videos.head(1).drop(columns=["title"]))


def test_feature_builder_follows_the_sklearn_estimator_conventions(world: SyntheticWorld) -> None:
    from sklearn.base import clone

    features = VideoFeatures(horizon_days=3.0, prior_window=7)
    assert features.get_params() == {"horizon_days": 3.0, "prior_window": 7}
    assert features.fit(world.frames) is features
    assert clone(features).get_params() == features.get_params()
    assert not hasattr(clone(features), "targets_")


_OFFSETS = st.integers(-12 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=_OFFSETS),
    category=st.one_of(st.none(), st.sampled_from(["22", "7", "music", "", " 10 ", "1e2"])),
    duration=st.one_of(st.none(), st.floats(1, 1e6)),
)
def test_one_video_gets_the_columns_a_frame_of_it_gets(
    moment: datetime, category: str | None, duration: float | None
) -> None:
    """What one prediction builds without pandas equals what pandas makes of the same video."""
    one = VideoRows.single(
        channel_id="UCx",
        title="Why?",
        published_at=moment,
        video_format="short",
        duration_seconds=duration,
        tag_count=2,
        category_id=category,
    )
    frame = VideoRows.from_frame(
        pd.DataFrame(
            {
                "channel_id": ["UCx"],
                "title": ["Why?"],
                "published_at": [pd.Timestamp(moment)],
                "video_format": ["short"],
                "duration_seconds": [math.nan if duration is None else duration],
                "tag_count": [2],
                "category_id": pd.Series([category], dtype=object),
            }
        )
    )
    assert one.published_s.tolist() == frame.published_s.tolist()
    assert one.published_at[0] == frame.published_at[0]
    assert one.published_at[0].isoformat() == frame.published_at[0].isoformat()
    for name in ("duration_seconds", "tag_count", "category_id"):
        np.testing.assert_array_equal(getattr(one, name), getattr(frame, name), err_msg=name)
    stamp = pd.Timestamp(moment).tz_convert(UTC)
    row = dict(zip(FEATURE_NAMES, _TINY.transform_rows(one)[0], strict=True))
    assert (row["publish_hour"], row["publish_weekday"]) == (stamp.hour, stamp.day_of_week)


def _tiny_frames() -> ChannelFrames:
    videos, snaps = _frames_one_video([("2026-01-08T00:00:00Z", 100)])
    videos["title"] = "x"
    return ChannelFrames(
        channels=pd.DataFrame({"channel_id": ["UCx"]}),
        videos=videos,
        video_snapshots=snaps,
        channel_snapshots=pd.DataFrame(columns=["channel_id", "observed_at", "subscriber_count"]),
    )


_TINY = VideoFeatures().fit(_tiny_frames())


def test_one_video_refuses_a_naive_time_and_an_unknown_format() -> None:
    with pytest.raises(DataQualityError, match="timezone"):
        VideoRows.single(channel_id="UCx", title="t", published_at=datetime(2026, 1, 1), video_format="long")
    row = VideoRows.single(
        channel_id="UCx", title="t", published_at=datetime(2026, 1, 1, tzinfo=UTC), video_format="podcast"
    )
    with pytest.raises(DataQualityError, match="podcast"):
        row.format_codes()
