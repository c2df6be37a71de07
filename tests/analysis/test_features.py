from __future__ import annotations

import pandas as pd
import pytest

from tubescope.analysis.features import NUMERIC_FEATURES, title_features, video_features
from tubescope.errors import DataQualityError


def test_title_features_measure_caps_question_digits_and_emoji() -> None:
    feats = title_features("WHY is THIS 100% real? 🔥🔥")
    assert feats.length == len("WHY is THIS 100% real? 🔥🔥")
    assert feats.has_question
    assert feats.digit_count == 3
    assert feats.emoji_count == 2
    assert feats.word_count == 5  # WHY, is, THIS, 100, real
    assert feats.caps_ratio == pytest.approx(7 / 13)  # WHY + THIS over every cased letter


def test_uncased_scripts_have_zero_caps_ratio_not_a_division_error() -> None:
    feats = title_features("नमस्ते दुनिया")
    assert feats.caps_ratio == 0.0
    assert feats.word_count >= 2
    assert not feats.has_question


def test_fullwidth_question_mark_counts_as_a_question() -> None:
    assert title_features("これは何？").has_question


def test_video_features_one_row_per_video_with_utc_timing_and_format() -> None:
    videos = pd.DataFrame(
        {
            "video_id": ["aaaaaaaaaaa", "bbbbbbbbbbb"],
            "title": ["Hello?", "Live now"],
            "published_at": pd.to_datetime(
                ["2026-03-04 17:30:00+00:00", "2026-03-08 02:00:00+00:00"], utc=True
            ),
            "video_format": ["short", "live"],
            "duration_seconds": [45.0, float("nan")],
            "tag_count": [3, 0],
        }
    )
    feats = video_features(videos)
    assert list(feats.index) == ["aaaaaaaaaaa", "bbbbbbbbbbb"]
    assert set(NUMERIC_FEATURES) <= set(feats.columns)
    first = feats.loc["aaaaaaaaaaa"]
    assert (first["publish_hour"], first["publish_weekday"]) == (17.0, 2.0)  # a Wednesday
    assert first["is_short"] == 1.0 and first["title_has_question"] == 1.0 and first["tag_count"] == 3.0
    second = feats.loc["bbbbbbbbbbb"]
    assert (
        second["is_live"] == 1.0 and pd.isna(second["duration_seconds"]) and second["publish_weekday"] == 6.0
    )


def test_missing_columns_are_named_in_a_typed_error() -> None:
    with pytest.raises(DataQualityError, match="published_at"):
        video_features(pd.DataFrame({"video_id": ["x"], "title": ["t"], "video_format": ["long"]}))
