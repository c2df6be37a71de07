"""Cold archive on a real S3-compatible server (moto, loopback): hot + cold reads equal an
unarchived warehouse on both backends; manifests and checksums; restore; refusals."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.warehouse.archive_fill import fill
from tubescope.errors import ConfigError, StorageError
from tubescope.jobs import catalog
from tubescope.jobs.report import render_report
from tubescope.warehouse import Warehouse
from tubescope.warehouse import archive as ar
from tubescope.warehouse.objectstore import ObjectStore

DAYS = 75


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    path = tmp_path_factory.mktemp("archive") / "filled.duckdb"
    return path, fill(path, days=DAYS)


@pytest.fixture(params=["duckdb", "postgresql"])
def source(
    request: pytest.FixtureRequest, filled: tuple[Path, datetime], tmp_path: Path
) -> Iterator[tuple[Path | str, datetime]]:
    """The same months of snapshots in a DuckDB file or a fresh PostgreSQL database."""
    if request.param == "duckdb":
        path = tmp_path / "w.duckdb"
        shutil.copy(filled[0], path)
        yield path, filled[1]
        return
    url: str = request.getfixturevalue("postgres_url")
    last = fill(url, days=DAYS)
    yield url, last
    from tubescope.warehouse.postgres_backend import close_pools
    from tubescope.warehouse.target import parse_target

    found = parse_target(url)
    assert not isinstance(found, Path)
    close_pools(found)


def identities(wh: Warehouse) -> Counter[tuple[Any, ...]]:
    """Every snapshot row, hot or cold, by identity (table, key, run, time)."""
    rows: Counter[tuple[Any, ...]] = Counter()
    for spec in ar.ARCHIVE_TABLES.values():
        columns = list(spec.identity)
        hot = wh.query_arrow(f"SELECT {', '.join(columns)} FROM {spec.name}").to_pylist()  # noqa: S608
        cold = ar.read_cold(wh, spec.name, columns)
        for row in [*hot, *(cold.to_pylist() if cold is not None else [])]:
            rows[(spec.name, row[columns[0]], row["run_id"], row["observed_at"].astimezone(UTC))] += 1
    return rows


def everything(wh: Warehouse, last: datetime, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What analysis, reports and the API read: frames, fleet KPIs, each channel's analysis and
    report, and the chunked snapshot scan."""
    monkeypatch.setattr("tubescope.jobs.report.utc_now", lambda: last)
    frames = wh.load_frames()
    ids = sorted(frames["channels"]["channel_id"])
    chunks = pd.concat(list(wh.iter_video_snapshots(batch_rows=500)), ignore_index=True)
    return {
        "frames": frames,
        "scan": chunks.sort_values(["channel_id", "video_id", "observed_at"]).reset_index(drop=True),
        "kpis": catalog.fleet_kpi_table(wh, now=last),
        "one": catalog.channel_kpi_table(wh, ids[0], now=last),
        "analysis": {c: catalog.channel_analysis(wh, c, now=last).to_dict() for c in ids},
        "report": render_report(wh, ids[0], peers=ids[1:], now=last).html,
        "since": wh.load_frames(ids[:2], since=last - timedelta(days=50))["video_snapshots"],
    }


def assert_same(a: dict[str, Any], b: dict[str, Any], *, rtol: float) -> None:
    for name in a["frames"]:
        pd.testing.assert_frame_equal(a["frames"][name], b["frames"][name], obj=name)
    pd.testing.assert_frame_equal(a["scan"], b["scan"], obj="iter_video_snapshots")
    pd.testing.assert_frame_equal(a["since"], b["since"], obj="since")
    for key in ("kpis", "one"):
        # equal up to the last bits of a float sum, whose order a UNION may change
        pd.testing.assert_frame_equal(a[key], b[key], check_exact=False, rtol=rtol, obj=key)
    assert json.dumps(a["analysis"], sort_keys=True, default=str) == json.dumps(
        b["analysis"], sort_keys=True, default=str
    )
    assert a["report"] == b["report"]


def test_hot_and_cold_read_as_one_warehouse(
    source: tuple[Path | str, datetime], s3_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, last = source
    with Warehouse.open(target) as wh:
        before = everything(wh, last, monkeypatch)
        rows_before = identities(wh)
        hot_before = wh.table_counts()
        outcome = ar.archive(wh, s3_uri, last - timedelta(days=30), now=last)
        assert outcome.rows > 0 and {s.table for s in outcome.segments} == set(ar.ARCHIVE_TABLES)
        hot_after = wh.table_counts()
        assert hot_after["video_snapshots"] == hot_before["video_snapshots"] - sum(
            s.rows for s in outcome.segments if s.table == "video_snapshots"
        )
        # every video and channel keeps its newest row hot
        assert wh.fetchone("SELECT count(DISTINCT video_id) FROM video_snapshots") == (
            wh.fetchone("SELECT count(*) FROM videos")
        )
        assert identities(wh) == rows_before
        after = everything(wh, last, monkeypatch)
        # DuckDB reads the archived rows in its own SQL; PostgreSQL in the pandas twin
        assert_same(before, after, rtol=1e-12 if wh.backend == "duckdb" else 1e-9)

        restored = ar.restore(
            wh, datetime(2026, 1, 20, tzinfo=UTC), datetime(2026, 2, 10, tzinfo=UTC), now=last
        )
        assert restored.rows["video_snapshots"] > 0 and restored.rows["channel_snapshots"] > 0
        assert (
            wh.table_counts()["video_snapshots"]
            == hot_after["video_snapshots"] + restored.rows["video_snapshots"]
        )
        assert identities(wh) == rows_before
        assert_same(before, everything(wh, last, monkeypatch), rtol=1e-12 if wh.backend == "duckdb" else 1e-9)

        # a second restore of the same range finds nothing left to bring back
        again = ar.restore(wh, datetime(2026, 1, 20, tzinfo=UTC), datetime(2026, 2, 10, tzinfo=UTC))
        assert again.rows == {"video_snapshots": 0, "channel_snapshots": 0}
        # and archiving again moves the restored rows out once more
        ar.archive(wh, s3_uri, last - timedelta(days=30), now=last)
        assert identities(wh) == rows_before
        assert wh.fetchone(
            "SELECT count(*) FROM video_snapshots WHERE observed_at < ?", [datetime(2026, 2, 1, tzinfo=UTC)]
        ) == (0,)


def test_manifest_and_checksums_describe_each_segment(filled: tuple[Path, datetime], tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(filled[0], path)
    location = (tmp_path / "cold").as_uri()
    with Warehouse.open(path) as wh:
        outcome = ar.archive(wh, location, filled[1] - timedelta(days=30))
        store = ObjectStore.open(location)
        for segment in outcome.segments:
            manifest = json.loads(store.get(segment.manifest_path).to_pybytes())
            assert manifest["format"] == ar.MANIFEST_FORMAT
            assert manifest["rows"] == segment.rows
            (entry,) = manifest["files"]
            assert entry["path"] == segment.data_path and entry["sha256"] == segment.sha256
            data = store.get(segment.data_path)
            assert len(memoryview(data)) == entry["bytes"]
            table = pq.read_table(tmp_path / "cold" / segment.data_path)
            assert table.num_rows == segment.rows
            assert str(table.column("observed_at").type) == "timestamp[us, tz=UTC]"
            month = segment.data_path.split("month=")[1][:7]
            assert {t.strftime("%Y-%m") for t in table.column("observed_at").to_pylist()} == {month}
        # a corrupted object is refused on restore, and nothing is inserted
        victim = outcome.segments[0]
        (tmp_path / "cold" / victim.data_path).write_bytes(b"not parquet")
        hot = wh.table_counts()
        with pytest.raises(StorageError, match="does not match"):
            ar.restore(wh, victim.min_observed_at, victim.max_observed_at + timedelta(seconds=1))
        assert wh.table_counts() == hot


def test_bad_locations_and_ranges_are_typed_errors(filled: tuple[Path, datetime], tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(filled[0], path)
    with Warehouse.open(path) as wh:
        with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID"):
            ar.archive(wh, "s3://bucket/p?access_key=AKIA&secret_key=x", filled[1])
        with pytest.raises(ConfigError, match="unsupported"):
            ar.archive(wh, "ftp://host/x", filled[1])
        with pytest.raises(ConfigError, match="cannot archive"):
            ar.archive(wh, str(tmp_path / "cold"), filled[1], tables=["videos"])
        with pytest.raises(ConfigError, match="empty"):
            ar.restore(wh, filled[1], filled[1])
        ar.archive(wh, str(tmp_path / "cold"), filled[1] - timedelta(days=40))
        with pytest.raises(ConfigError, match="one location per warehouse"):
            ar.archive(wh, str(tmp_path / "elsewhere"), filled[1])


def test_segments_group_rows_by_channel_so_channel_reads_skip_row_groups(
    filled: tuple[Path, datetime], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(filled[0], path)
    monkeypatch.setattr(ar, "ROW_GROUP_ROWS", 16)  # several row groups per channel in a small segment
    location = (tmp_path / "cold").as_uri()
    with Warehouse.open(path) as wh:
        hot = wh.query_arrow("SELECT video_id, channel_id, run_id, observed_at FROM video_snapshots")
        outcome = ar.archive(wh, location, filled[1] - timedelta(days=30))
        for segment in (s for s in outcome.segments if s.table == "video_snapshots"):
            file = pq.ParquetFile(tmp_path / "cold" / segment.data_path)
            table = file.read()
            channels = table.column("channel_id").to_pylist()
            assert channels == sorted(channels)
            # within a channel the hot table's order is kept (the sort is stable)
            for channel in set(channels):
                mine = table.filter(pc.equal(table.column("channel_id"), channel))
                times = mine.column("observed_at").to_pylist()
                assert times == sorted(times)
            # each row group holds a narrow channel range, so a one-channel read opens few of them
            index = file.schema_arrow.get_field_index("channel_id")
            spans = [
                (
                    file.metadata.row_group(g).column(index).statistics.min,
                    file.metadata.row_group(g).column(index).statistics.max,
                )
                for g in range(file.num_row_groups)
            ]
            assert file.num_row_groups > len(set(channels))
            assert all(spans[g][1] <= spans[g + 1][0] for g in range(len(spans) - 1))
            fragment = next(iter(ds.dataset(tmp_path / "cold" / segment.data_path).get_fragments()))
            one = channels[0]
            touched = fragment.split_by_row_group(ds.field("channel_id") == one)
            assert len(touched) <= -(-channels.count(one) // 16) + 1 < file.num_row_groups
        # and the cold rows read per channel equal the hot rows they were
        for channel in sorted(set(hot.column("channel_id").to_pylist())):
            cold = ar.read_cold(
                wh, "video_snapshots", ["video_id", "run_id", "observed_at"], channel_ids=[channel]
            )
            assert cold is not None
            archived = {(r["video_id"], r["run_id"], r["observed_at"]) for r in cold.to_pylist()}
            before = {
                (r["video_id"], r["run_id"], r["observed_at"])
                for r in hot.filter(pc.equal(hot.column("channel_id"), channel)).to_pylist()
            }
            assert archived and archived <= before


def test_cluster_by_channel_is_a_stable_grouping() -> None:
    rows = pa.table(
        {
            "channel_id": ["b", "a", "c", "a", "b", "a"],
            "n": [0, 1, 2, 3, 4, 5],
        }
    )
    grouped = ar.cluster_by_channel(rows)
    assert grouped.column("channel_id").to_pylist() == ["a", "a", "a", "b", "b", "c"]
    assert grouped.column("n").to_pylist() == [1, 3, 5, 0, 4, 2]
    assert ar.cluster_by_channel(rows.slice(0, 0)).num_rows == 0
