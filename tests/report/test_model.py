"""ReportModel invariants and the derived helpers the renderers rely on."""

from __future__ import annotations

import math

import pytest

from tubescope.report import formatting as fmt
from tubescope.report.model import (
    CorrelationMatrix,
    Kpi,
    PeerChannel,
    PeerComparison,
    PeerMetric,
    TimeSeries,
    Unit,
)


def test_kpi_delta_against_previous_period() -> None:
    views = Kpi("views", "Views", 120.0, 100.0)
    assert views.delta == 20.0 and views.delta_ratio == pytest.approx(0.2)
    assert fmt.delta(views) == "+20.0%" and fmt.delta_tone(views) == "good"
    churn = Kpi("churn", "Unsubscribes", 120.0, 100.0, higher_is_better=False)
    assert fmt.delta_tone(churn) == "bad"


def test_kpi_without_baseline_has_no_delta() -> None:
    for previous in (None, math.nan):
        kpi = Kpi("views", "Views", 10.0, previous)
        assert kpi.delta is None and fmt.delta(kpi) == "—"
    from_zero = Kpi("uploads", "Uploads", 3.0, 0.0)
    assert from_zero.delta_ratio is None and fmt.delta(from_zero) == "+3"


def test_rates_change_in_percentage_points() -> None:
    rate = Kpi("er", "Engagement", 0.041, 0.036, unit=Unit.PERCENT, derived=True)
    assert fmt.delta(rate) == "+0.5 pp" and fmt.number(rate.value, rate.unit) == "4.1%"


def test_number_formatting() -> None:
    assert fmt.number(1_234_567) == "1.23M"
    assert fmt.number(999) == "999"
    assert fmt.number(None) == "—"
    assert fmt.number(2.5, Unit.PER_WEEK) == "2.5/wk"
    assert fmt.number(1.8, Unit.RATIO) == "1.80x"


def test_misaligned_series_are_rejected() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        TimeSeries("x", (), (1.0,))
    with pytest.raises(ValueError, match="2x2"):
        CorrelationMatrix(("a", "b"), ((1.0,),), ((0.0,),), n=3)


def test_peer_median_excludes_the_subject() -> None:
    peers = PeerComparison(
        channels=(PeerChannel("a", "A"), PeerChannel("me", "Me", is_subject=True), PeerChannel("b", "B")),
        metrics=(PeerMetric("v", "Views", (10.0, 1000.0, 30.0)),),
    )
    metric = peers.metrics[0]
    assert peers.subject_value(metric) == 1000.0
    assert peers.peer_median(metric) == 20.0
    with pytest.raises(ValueError, match="exactly one channel"):
        PeerComparison(channels=(PeerChannel("a", "A"),), metrics=())


def test_model_serialises_to_plain_json(model: object) -> None:
    import json

    from tubescope.report.model import ReportModel

    assert isinstance(model, ReportModel)
    data = json.loads(json.dumps(model.to_dict(), allow_nan=False))
    assert data["header"]["title"] == model.header.title
    assert data["window"]["end"] == model.window.end.isoformat()
    assert data["kpis"][0]["key"] == "views" and data["kpis"][0]["unit"] == "count"
    assert len(data["heatmap"]["values"]) == 7
