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


def test_json_safe_turns_every_analysis_value_into_strict_json() -> None:
    import dataclasses
    import json
    import math
    from datetime import UTC, datetime, timedelta, timezone

    import numpy as np

    from tubescope.analysis.features import json_safe

    @dataclasses.dataclass
    class Plain:
        ratio: float
        when: datetime

    value = {
        "nan": math.nan,
        "inf": np.float32("inf"),
        "np_int": np.int64(7),
        "np_float": np.float64(0.25),
        "np_bool": np.bool_(True),
        "array": np.array([1.5, np.nan]),
        "set": {3},
        "tuple": (1, None),
        "nat": pd.NaT,
        "na": pd.NA,
        "when": datetime(2026, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))),
        "stamp": pd.Timestamp("2026-05-01T10:00:00Z"),
        "age": pd.Timedelta(hours=1, seconds=30),
        "plain": Plain(math.inf, datetime(2026, 1, 1, tzinfo=UTC)),
        "frame": pd.DataFrame({"v": [1.0, math.nan]}, index=pd.Index(["a", "b"], name="id")),
        7: "key made a string",
        "other": complex(1, 2),
    }
    safe = json_safe(value)
    assert json.loads(json.dumps(safe, allow_nan=False)) == safe  # strict JSON, round-trips
    assert safe["nan"] is None and safe["inf"] is None and safe["nat"] is None and safe["na"] is None
    assert safe["np_int"] == 7 and type(safe["np_int"]) is int
    assert safe["np_float"] == 0.25 and safe["np_bool"] is True
    assert safe["array"] == [1.5, None] and safe["set"] == [3] and safe["tuple"] == [1, None]
    assert safe["when"] == "2026-05-01T12:00:00+02:00" and safe["stamp"] == "2026-05-01T10:00:00+00:00"
    assert safe["age"] == 3630.0
    assert safe["plain"] == {"ratio": None, "when": "2026-01-01T00:00:00+00:00"}
    assert safe["frame"] == [{"id": "a", "v": 1.0}, {"id": "b", "v": None}]
    assert safe["7"] == "key made a string" and safe["other"] == "(1+2j)"


def test_finite_or_none_and_the_clock_and_column_guards() -> None:
    from datetime import UTC, datetime

    from tubescope.analysis.features import finite_or_none, require_aware, require_columns
    from tubescope.errors import ConfigError

    assert finite_or_none(None) is None and finite_or_none(float("nan")) is None
    assert finite_or_none("2.5") == 2.5
    assert require_aware(datetime(2026, 1, 1, tzinfo=UTC)) == pd.Timestamp("2026-01-01", tz="UTC")
    with pytest.raises(ConfigError, match="now must be timezone-aware"):
        require_aware(datetime(2026, 1, 1))
    with pytest.raises(ConfigError, match="as_of must be a datetime, got str"):
        require_aware("2026-01-01", "as_of")  # type: ignore[arg-type]
    with pytest.raises(DataQualityError, match="videos must be a pandas DataFrame, got dict"):
        require_columns({"video_id": []}, "videos", ["video_id"])  # type: ignore[arg-type]
    with pytest.raises(DataQualityError, match=r"lacks required column\(s\): title, video_format"):
        require_columns(pd.DataFrame({"video_id": []}), "videos", ["video_id", "title", "video_format"])


def test_video_features_without_tag_counts_count_zero_tags() -> None:
    videos = pd.DataFrame(
        {
            "video_id": ["a", "b"],
            "title": ["Why?", None],
            "published_at": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True),
            "video_format": ["long", "short"],
            "duration_seconds": [600, 30],
        }
    )
    features = video_features(videos)
    assert features["tag_count"].tolist() == [0.0, 0.0]
    assert features["title_has_question"].tolist() == [1.0, 0.0]  # a missing title is an empty one
    assert features["title_length"].tolist() == [4.0, 0.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_latest_rows_equals_the_frame_sort_then_drop_duplicates(seed: int) -> None:
    import numpy as np

    from tubescope.analysis.features import latest_rows

    rng = np.random.default_rng(seed)
    n = 5000
    # Few distinct instants (ties within and across videos), NaT and missing ids included.
    stamps = pd.to_datetime(rng.integers(0, 40, n), unit="D", utc=True).to_series(index=None)
    stamps[rng.random(n) < 0.02] = pd.NaT
    ids = pd.Series([f"v{i}" for i in rng.integers(0, 300, n)], dtype="str")
    ids[rng.random(n) < 0.01] = None
    frame = pd.DataFrame(
        {"video_id": ids, "observed_at": stamps.to_numpy(), "view_count": rng.integers(0, 9, n)},
        index=pd.Index(rng.permutation(n) + 10),
    )
    expected = frame.sort_values("observed_at").drop_duplicates("video_id", keep="last")
    pd.testing.assert_frame_equal(latest_rows(frame, "video_id"), expected)


def test_gc_paused_switches_the_collector_back_only_for_its_owner() -> None:
    import gc

    from tubescope.analysis.features import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner one does not switch it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("a failing analysis")
    assert gc.isenabled()
    gc.disable()  # off on purpose: a pause leaves it off
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
