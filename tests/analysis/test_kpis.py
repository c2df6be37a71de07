"""Channel KPI figures from a fleet KPI row: every missing figure says why (never a 0)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from tubescope.analysis.kpis import KPI_DEFINITIONS, channel_kpis_from_row, channel_kpis_from_table

AS_OF = pd.Timestamp("2026-05-01T00:00:00Z")


def test_a_channel_absent_from_the_table_was_never_observed() -> None:
    table = pd.DataFrame({"channel_id": ["UCother00000000000000000"], "as_of": [AS_OF], "n_videos": [3]})
    kpis = channel_kpis_from_table(table, "UCabsent0000000000000000")
    assert kpis.as_of is None and kpis.stale_days is None and not kpis.stale
    assert [f.name for f in kpis.figures] == [d.name for d in KPI_DEFINITIONS]
    assert {f.reason for f in kpis.figures} == {"never observed: collect the channel first"}
    assert kpis.values == dict.fromkeys(kpis.values)  # every value None
    with pytest.raises(KeyError, match="no_such_figure"):
        kpis.figure("no_such_figure")


def test_each_missing_figure_names_its_own_reason() -> None:
    row = {
        "channel_id": "UCsome000000000000000000",
        "as_of": AS_OF.to_pydatetime(),
        "subscriber_count": 1000,
        "total_views": float("nan"),  # no channel statistics
        "n_videos": 12,
        "median_views": "n/a",  # not a number: treated as missing, not an error
        "subscriber_gain_28d": 50,
        "subscriber_growth_28d": None,  # 28 days earlier the count was 0
        "view_gain_28d": None,
        "view_growth_28d": None,
    }
    kpis = channel_kpis_from_row(row, reference=datetime(2026, 5, 20, tzinfo=UTC))
    reasons = kpis.to_dict()["reasons"]
    assert reasons["total_views"] == "no channel statistics collected yet"
    assert reasons["median_views"] == "no video statistics collected yet"
    assert reasons["subscriber_growth_28d"] == "the count 28 days earlier was zero"
    assert reasons["view_growth_28d"].startswith("less than 28 days of history")
    assert kpis.value("subscriber_count") == 1000 and kpis.value("subscriber_gain_28d") == 50
    assert kpis.stale and kpis.stale_days == pytest.approx(19.0)
    assert kpis.stale_note is not None and kpis.stale_note.startswith("Last collected 2026-05-01, 19 days")


def test_a_reference_older_than_the_data_or_a_missing_time_is_not_stale() -> None:
    row = {"channel_id": "UCsome000000000000000000", "as_of": pd.NaT}
    assert channel_kpis_from_row(row).as_of is None
    fresh = channel_kpis_from_row(
        {"channel_id": "UCx", "as_of": "2026-05-01 00:00:00"}, reference=AS_OF - pd.Timedelta(days=3)
    )
    assert fresh.as_of == "2026-05-01T00:00:00+00:00" and fresh.reference_as_of == fresh.as_of
    assert fresh.stale_days == 0 and not fresh.stale and fresh.stale_note is None
