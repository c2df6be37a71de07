"""The fleet KPI SQL of each backend gives the same table on the same data (and the pandas one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tests.analysis.planted_frames import NOW
from tests.analysis.test_summary import _fleet_frames, _to_duckdb
from tubescope.analysis.kpis_postgres import fleet_kpis_postgres_sql
from tubescope.analysis.summary import FLEET_KPI_COLUMNS, fleet_kpis, fleet_kpis_duckdb, kpi_frame
from tubescope.errors import ConfigError
from tubescope.warehouse.frames import arrow_to_frame
from tubescope.warehouse.postgres_backend import PostgresBackend, close_pools, open_backend
from tubescope.warehouse.target import PostgresTarget

_COLUMNS = {
    "videos": ("video_id", "channel_id", "published_at"),
    "video_snapshots": ("video_id", "channel_id", "observed_at", "view_count", "like_count", "comment_count"),
    "channel_snapshots": ("channel_id", "observed_at", "subscriber_count", "view_count"),
}


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresBackend]:
    target = PostgresTarget(postgres_url)
    backend = open_backend(target)
    yield backend
    backend.close()
    close_pools(target)


def _stage(backend: PostgresBackend, frames: object) -> None:
    for name, columns in _COLUMNS.items():
        frame = getattr(frames, name)[list(columns)]
        table = pa.Table.from_pandas(frame, preserve_index=False)
        # nullable integer counts travel as int64 (NULL kept), times as UTC timestamps
        table = table.cast(
            pa.schema(
                [
                    pa.field(f.name, pa.int64() if pa.types.is_integer(f.type) else f.type)
                    for f in table.schema
                ]
            )
        )
        backend.stage(name, table)


def _postgres_kpis(backend: PostgresBackend, channel_id: str | None = None) -> pd.DataFrame:
    params: dict[str, object] = {"now": NOW}
    if channel_id is not None:
        params["channel_id"] = channel_id
    sql = fleet_kpis_postgres_sql(one_channel=channel_id is not None)
    return kpi_frame(arrow_to_frame(backend.arrow(sql, params), ()))


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame, *, dtypes: bool = True) -> None:
    assert list(got.columns) == list(expected.columns) == list(FLEET_KPI_COLUMNS)
    assert got["channel_id"].tolist() == expected["channel_id"].tolist()
    assert (got["as_of"] == expected["as_of"]).all()
    if dtypes:
        assert got.dtypes.astype(str).tolist() == expected.dtypes.astype(str).tolist()
    for column in FLEET_KPI_COLUMNS[2:]:
        assert np.allclose(
            got[column].to_numpy(dtype=float),
            expected[column].to_numpy(dtype=float),
            rtol=1e-12,
            equal_nan=True,
        ), column


def test_postgres_and_duckdb_fleet_kpis_are_identical_on_the_same_data(
    tmp_path: Path, pg: PostgresBackend
) -> None:
    frames = _fleet_frames()
    duck = _to_duckdb(frames, tmp_path / "fleet.duckdb")
    _stage(pg, frames)
    from_duckdb = fleet_kpis_duckdb(duck, NOW)
    from_postgres = _postgres_kpis(pg)
    assert len(from_duckdb) == 3
    _assert_same(from_postgres, from_duckdb)
    _assert_same(from_postgres, fleet_kpis(frames, NOW), dtypes=False)
    # Hidden subscribers stay NaN (never 0) and 20 days of history give no 28-day growth.
    row = from_postgres.set_index("channel_id")
    assert np.isnan(row.loc["UCbbbb00000000000000000002", "subscriber_count"])
    assert np.isnan(row.loc["UCcccc00000000000000000003", "view_growth_28d"])
    for channel_id in from_duckdb["channel_id"]:
        _assert_same(
            _postgres_kpis(pg, channel_id).reset_index(drop=True),
            fleet_kpis_duckdb(duck, NOW, channel_id=channel_id).reset_index(drop=True),
        )
    duck.close()


def test_postgres_kpi_sql_takes_only_plain_table_names() -> None:
    assert "$channel_id" in fleet_kpis_postgres_sql(one_channel=True)
    with pytest.raises(ConfigError):
        fleet_kpis_postgres_sql(videos="videos; DROP TABLE videos")
