"""Fleet KPIs over the Parquet lake with Dask distributed equal the warehouse's DuckDB table."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pyarrow import fs as pafs
from typer.testing import CliRunner

from tests.test_cli import run_cli
from tests.warehouse.archive_fill import fill
from tubescope.cli import app
from tubescope.errors import ConfigError, StorageError
from tubescope.fleet import Lake, fleet_kpis_dask, fleet_kpis_lake_duckdb
from tubescope.jobs import catalog
from tubescope.warehouse import Warehouse
from tubescope.warehouse.export import export_parquet
from tubescope.warehouse.objectstore import ObjectStore


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, Any]:
    """A warehouse of 5 channels, its exported lake, and the warehouse's own KPI table."""
    folder = tmp_path_factory.mktemp("lake")
    db = folder / "w.duckdb"
    last = fill(db, channels=5, videos=4, days=30, seed=3)
    with Warehouse.open(db, read_only=True) as wh:
        export_parquet(wh, folder / "lake", ["videos", "video_snapshots", "channel_snapshots"])
        expected = catalog.fleet_kpi_table(wh, now=last)
    return folder / "lake", expected, last


def test_dask_on_a_scheduler_equals_duckdb(lake: tuple[Path, pd.DataFrame, Any], cluster: Any) -> None:
    folder, expected, last = lake
    assert len(expected) == 5
    # the same code pointed at a scheduler address (here a LocalCluster's)
    result = fleet_kpis_dask(str(folder), last, scheduler=cluster.scheduler_address, channels_per_task=2)
    assert result.engine == "dask" and result.tasks == 3 and result.workers == 2
    pd.testing.assert_frame_equal(result.table, expected, check_exact=False, rtol=1e-12)
    # the lake's last observation is the default as-of
    again = fleet_kpis_dask(folder.as_uri(), scheduler=cluster.scheduler_address)
    assert again.as_of == last
    # left to the library: two tasks per worker thread (2 threads, 5 channels: groups of 2)
    assert again.tasks == 3
    pd.testing.assert_frame_equal(again.table, expected, check_exact=False, rtol=1e-12)
    # and an earlier as-of moves every 28-day figure
    earlier = fleet_kpis_dask(str(folder), last - timedelta(days=5), scheduler=cluster.scheduler_address)
    assert not earlier.table["total_views"].equals(expected["total_views"])


def test_duckdb_over_the_lake_equals_the_warehouse(lake: tuple[Path, pd.DataFrame, Any]) -> None:
    folder, expected, last = lake
    result = fleet_kpis_lake_duckdb(str(folder))
    assert result.as_of == last
    pd.testing.assert_frame_equal(result.table, expected, check_exact=False, rtol=1e-12)


def test_dask_reads_a_lake_on_s3(
    lake: tuple[Path, pd.DataFrame, Any], cluster: Any, s3_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, expected, last = lake
    store = ObjectStore.open(s3_uri)
    # two channels' partitions are enough to show the remote path (each object is a request)
    wanted = sorted(expected["channel_id"])[:2]
    for table in ("videos", "video_snapshots", "channel_snapshots"):
        for channel_id in wanted:
            part = f"{table}/channel_id={channel_id}"
            pafs.copy_files(str(folder / part), store.path(part), destination_filesystem=store.filesystem)
    expected = expected[expected["channel_id"].isin(wanted)].reset_index(drop=True)
    # workers of a running cluster read the credentials of their own environment
    cluster_env = {k: v for k, v in __import__("os").environ.items() if k.startswith("AWS_")}
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        client.run(lambda: __import__("os").environ.update(cluster_env))
        result = fleet_kpis_dask(s3_uri, last, client=client)
    pd.testing.assert_frame_equal(result.table, expected, check_exact=False, rtol=1e-12)
    assert Lake.open(s3_uri).channel_ids() == wanted


def test_cli_fleet_kpis_and_its_errors(lake: tuple[Path, pd.DataFrame, Any], tmp_path: Path) -> None:
    folder, expected, last = lake
    runner = CliRunner()
    done = runner.invoke(app, ["fleet", "kpis", "--lake", str(folder), "--engine", "duckdb", "--json"])
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert body["derived"] is True and pd.Timestamp(body["as_of"]) == pd.Timestamp(last)
    assert [r["channel_id"] for r in body["channels"]] == list(expected["channel_id"])
    missing = run_cli("fleet", "kpis", "--lake", str(tmp_path), "--engine", "duckdb")
    assert missing.returncode != 0 and "no lake at" in missing.stderr and "Traceback" not in missing.stderr
    with pytest.raises(StorageError, match="no lake"):
        Lake.open(str(tmp_path))
    with pytest.raises(ConfigError, match="unknown engine"):
        from tubescope.jobs.fleet import run_fleet_kpis

        run_fleet_kpis(str(folder), engine="spark")


def test_a_lake_without_snapshots_is_a_typed_error(tmp_path: Path, cluster: Any) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tubescope.fleet.lake import LAKE_SCHEMAS

    # a channel with a video but no snapshot in either table: no last observation to report
    folder = tmp_path / "lake"
    part = folder / "videos" / "channel_id=UC1"
    part.mkdir(parents=True)
    schema = LAKE_SCHEMAS["videos"]
    pq.write_table(
        pa.table(
            {"video_id": ["v1"], "published_at": pa.array([last_time()], schema.field("published_at").type)}
        ),
        part / "data_0.parquet",
    )
    (folder / "video_snapshots").mkdir()
    with pytest.raises(StorageError, match="holds no snapshots"):
        fleet_kpis_lake_duckdb(str(folder))
    with pytest.raises(StorageError, match="holds no snapshots"):
        fleet_kpis_dask(str(folder), scheduler=cluster.scheduler_address)
    # with an as-of given, the one channel's row has nothing observed
    given = fleet_kpis_dask(str(folder), last_time(), scheduler=cluster.scheduler_address)
    assert list(given.table["channel_id"]) == ["UC1"] and pd.isna(given.table["as_of"][0])


def last_time() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 3, 1, tzinfo=UTC)
