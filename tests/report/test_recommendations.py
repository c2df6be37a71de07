"""Recommendations: every claim carries its numbers; weak evidence is omitted or labelled weak."""

from __future__ import annotations

import dataclasses
import re

from tubescope.report.model import (
    AbResult,
    Confidence,
    FormatStat,
    PublishHeatmap,
    ReportModel,
    TimeSlotEffect,
)
from tubescope.report.recommendations import build_recommendations

_NUMBER = re.compile(r"\d")


def _by_topic(model: ReportModel, topic: str) -> list[str]:
    return [
        f"{r.headline} | {r.evidence} | {r.confidence}"
        for r in build_recommendations(model)
        if r.topic == topic
    ]


def test_every_recommendation_has_numbers_and_is_derived(model: ReportModel) -> None:
    recommendations = build_recommendations(model)
    assert {r.topic for r in recommendations} >= {"timing", "ab", "format", "outliers", "peers", "growth"}
    for rec in recommendations:
        assert _NUMBER.search(rec.evidence), rec
        assert rec.derived
    order = [r.confidence for r in recommendations]
    ranks = {Confidence.HIGH: 0, Confidence.MEDIUM: 1, Confidence.LOW: 2}
    assert [ranks[c] for c in order] == sorted(ranks[c] for c in order), "strongest first"


def test_best_slot_states_lift_interval_and_sample_size(model: ReportModel) -> None:
    timing = [r for r in build_recommendations(model) if r.topic == "timing"]
    assert len(timing) == 1  # Fri 09:00 has an interval including 1x: not recommended
    rec = timing[0]
    assert (
        rec.evidence
        == "Shorts published Tue 17:00 UTC get 1.80x the channel's median views (95% CI 1.30–2.40, n=42)"
    )
    assert rec.confidence is Confidence.HIGH


def _heatmap_with(model: ReportModel, *slots: TimeSlotEffect) -> ReportModel:
    assert model.heatmap is not None
    return dataclasses.replace(model, heatmap=dataclasses.replace(model.heatmap, best_slots=slots))


def test_slot_whose_interval_includes_one_is_reported_as_weak(model: ReportModel) -> None:
    weak = _heatmap_with(model, TimeSlotEffect(2, 9, lift=1.4, ci_low=0.95, ci_high=2.0, n=20))
    timing = [r for r in build_recommendations(weak) if r.topic == "timing"]
    assert len(timing) == 1
    assert timing[0].confidence is Confidence.LOW
    assert "may be chance" in timing[0].evidence and "Wed 09:00" in timing[0].evidence
    assert "keep the current schedule" in timing[0].headline


def test_slot_with_too_few_uploads_is_not_discussed(model: ReportModel) -> None:
    tiny = _heatmap_with(model, TimeSlotEffect(2, 9, lift=3.0, ci_low=1.5, ci_high=6.0, n=3))
    assert _by_topic(tiny, "timing") == []


def test_small_but_clear_slot_effect_is_medium_not_high(model: ReportModel) -> None:
    small = _heatmap_with(model, TimeSlotEffect(2, 9, lift=1.5, ci_low=1.1, ci_high=2.0, n=12))
    (rec,) = [r for r in build_recommendations(small) if r.topic == "timing"]
    assert rec.confidence is Confidence.MEDIUM


def test_significant_ab_result_is_a_recommendation_and_null_results_are_labelled(model: ReportModel) -> None:
    ab = [r for r in build_recommendations(model) if r.topic == "ab"]
    strong = [r for r in ab if r.confidence is not Confidence.LOW]
    assert len(strong) == 1
    assert "1.40x" in strong[0].evidence and "95% CI 1.15–1.70" in strong[0].evidence
    assert "p=0.003 adjusted" in strong[0].evidence and "n=60 vs 90" in strong[0].evidence
    assert strong[0].headline == "Use more titles with a question mark (shorts)"
    assert strong[0].evidence.startswith("Shorts: title contains '?' vs the rest: 1.40x views at 7 days")
    weak = [r for r in ab if r.confidence is Confidence.LOW]
    assert (
        len(weak) == 1
        and "title contains '!' vs the rest" in weak[0].evidence
        and "no significant difference" in weak[0].headline
    )


def test_ab_with_small_p_but_interval_crossing_null_is_not_significant() -> None:
    test = AbResult("x", "views", "a", "b", 40, 40, 1.0, 1.2, 1.2, 0.98, 1.5, p_value=0.01)
    assert not test.significant
    harmful = AbResult("x", "views", "a", "b", 40, 40, 1.0, 0.6, 0.6, 0.5, 0.75, p_value=0.0001)
    assert harmful.significant


def test_harmful_treatment_is_advised_against(model: ReportModel) -> None:
    harmful = AbResult(
        "All caps title",
        "views at 7 days",
        "normal case",
        "all caps",
        50,
        45,
        2000,
        1200,
        0.6,
        0.5,
        0.75,
        p_value=0.0005,
        p_adjusted=0.001,
    )
    changed = dataclasses.replace(model, ab_tests=(harmful,))
    (rec,) = [r for r in build_recommendations(changed) if r.topic == "ab"]
    assert rec.headline == "Use fewer videos matching “all caps”" and "0.60x" in rec.evidence


def test_overlapping_format_intervals_give_no_format_advice(model: ReportModel) -> None:
    overlapping = (
        FormatStat("short", 50, 100_000, 1500.0, 0.4, None, (1000.0, 2600.0)),
        FormatStat("long", 40, 150_000, 2000.0, 0.6, None, (1500.0, 3000.0)),
    )
    assert _by_topic(dataclasses.replace(model, formats=overlapping), "format") == []


def test_correlation_is_called_a_correlation(model: ReportModel) -> None:
    (rec,) = [r for r in build_recommendations(model) if r.topic == "correlation"]
    assert "the number of tags" in rec.evidence and "ρ=0.42" in rec.evidence
    assert "not proof of cause" in rec.evidence
    assert rec.headline == "Try more tags on a few videos and compare"
    assert "title length" not in rec.evidence  # |rho| 0.05: below the threshold


def test_no_column_or_model_name_reaches_a_headline(model: ReportModel) -> None:
    for rec in build_recommendations(model):
        assert "_" not in rec.headline, rec.headline
        assert "ETS(" not in rec.headline + rec.evidence and "log1p" not in rec.headline + rec.evidence


def test_n_is_the_n_the_coefficient_was_computed_on(model: ReportModel) -> None:
    matrix = model.correlation
    assert matrix is not None
    size = len(matrix.variables)
    n_pairs = tuple(tuple(12 for _ in range(size)) for _ in range(size))
    narrowed = dataclasses.replace(model, correlation=dataclasses.replace(matrix, n_pairs=n_pairs))
    (rec,) = [r for r in build_recommendations(narrowed) if r.topic == "correlation"]
    assert "n=12" in rec.evidence and f"n={matrix.n}" not in rec.evidence
    assert rec.confidence is Confidence.LOW  # twelve videos are never more than a hint


def test_confounded_comparisons_are_never_above_low(model: ReportModel) -> None:
    confounded = tuple(
        dataclasses.replace(t, confounded_by="video age (latest views)") for t in model.ab_tests
    )
    ab = [
        r for r in build_recommendations(dataclasses.replace(model, ab_tests=confounded)) if r.topic == "ab"
    ]
    assert ab and all(r.confidence is Confidence.LOW for r in ab)
    assert any("confounded by video age" in r.evidence for r in ab)


def test_peer_gaps_only_where_the_channel_trails(model: ReportModel) -> None:
    peers = [r for r in build_recommendations(model) if r.topic == "peers"]
    assert [r.headline for r in peers] == ["Close the gap on median views per video"]
    assert "1.8k vs a peer median of 4.2k" in peers[0].evidence
    assert peers[0].confidence is Confidence.LOW  # three peers only


def test_empty_model_gives_no_recommendations(model: ReportModel) -> None:
    empty = ReportModel(header=model.header, window=model.window)
    assert build_recommendations(empty) == ()


def test_heatmap_shape_is_validated() -> None:
    import pytest

    with pytest.raises(ValueError, match="7 weekdays x 24 hours"):
        PublishHeatmap(values=((None,) * 24,) * 6, counts=((0,) * 24,) * 7)
