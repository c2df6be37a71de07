from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dask.dataframe as dd
import duckdb
import pandas as pd
import pytest
from rich.console import Console

from tubescope.domain.models import Comment
from tubescope.errors import ConfigError, StorageError
from tubescope.jobs.export import run_export
from tubescope.warehouse import Warehouse
from tubescope.warehouse.export import EXPORT_SPECS, export_parquet

from .conftest import T0, FixedClock, channel, csnap, video, vsnap

A, B = "UCaaaaaaaaaaaaaaaaaaaaaa", "UCbbbbbbbbbbbbbbbbbbbbbb"
SNAPSHOT_COLUMNS = [
    "video_id",
    "channel_id",
    "run_id",
    "observed_at",
    "view_count",
    "like_count",
    "comment_count",
]


@pytest.fixture
def filled(target: Path | str, clock: FixedClock) -> Path | str:
    """A small warehouse on each backend in turn (PostgreSQL exports through Arrow)."""
    with Warehouse.open(target, clock=clock) as wh:
        for day in range(3):
            clock.now = T0 + timedelta(days=day, hours=day)
            run = wh.start_run("youtube", ["@a", "@b"], [])
            wh.upsert_channels(run, [channel(A), channel(B, subscribers=None)])
            wh.record_channel_snapshots(
                run, [csnap(A, at=clock.now), csnap(B, at=clock.now, subscribers=None)]
            )
            ids = [f"vid_{c}_{i:05d}" for c in "ab" for i in range(4)]
            wh.upsert_videos(run, [video(v, A if v[4] == "a" else B) for v in ids])
            wh.record_video_snapshots(
                run,
                [
                    vsnap(v, 100 * day + i, at=clock.now, likes=None if i % 3 == 0 else i)
                    for i, v in enumerate(ids)
                ],
            )
            wh.add_comments(run, [Comment(f"c{day}", "vid_a_00000", None, "x", "hi", day, clock.now)])
            wh.quarantine(run, "video", f"bad{day}", {"id": f"bad{day}"}, "negative_count: test")
            wh.finish_run(run, "completed")
    return target


def _source(db: Path | str, sql: str) -> pd.DataFrame:
    with Warehouse.open(db, read_only=True) as wh:
        return wh.query(sql)


def _normalise(frame: pd.DataFrame, columns: list[str], key: list[str]) -> pd.DataFrame:
    out = frame[columns].copy()
    for column in columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype) or out[column].dtype == object:
            out[column] = out[column].astype(str)
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        elif pd.api.types.is_integer_dtype(out[column]) or pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].astype("Int64")
        elif pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].astype(str)
    return out.sort_values(key).reset_index(drop=True)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:The inplace keyword")
def test_export_is_hive_partitioned_and_reads_back_in_duckdb_pandas_and_dask(
    filled: Path | str, tmp_path: Path
) -> None:
    out = tmp_path / "lake"
    result = run_export(
        out, db_path=filled, tables=["video_snapshots", "channels", "comments"], progress=False
    )
    assert [t.table for t in result.tables] == ["video_snapshots", "channels", "comments"]
    snap_dir = out / "video_snapshots"
    partitions = sorted(p.relative_to(snap_dir).parent.as_posix() for p in snap_dir.rglob("*.parquet"))
    assert partitions == [f"channel_id={c}/snapshot_date=2026-03-0{d}" for c in (A, B) for d in (1, 2, 3)]
    source = _source(filled, "SELECT * FROM video_snapshots")
    expected = _normalise(source, SNAPSHOT_COLUMNS, ["video_id", "run_id"])
    assert len(expected) == 24 == result.tables[0].rows

    via_duckdb = (
        duckdb.connect()
        .execute("SELECT * FROM read_parquet(?, hive_partitioning = true)", [f"{snap_dir}/**/*.parquet"])
        .df()
    )
    via_pandas = pd.read_parquet(snap_dir)
    via_dask = dd.read_parquet(str(snap_dir)).compute()
    for name, frame in [("duckdb", via_duckdb), ("pandas", via_pandas), ("dask", via_dask)]:
        got = _normalise(frame, SNAPSHOT_COLUMNS, ["video_id", "run_id"])
        pd.testing.assert_frame_equal(got, expected, obj=name)
        assert frame["like_count"].isna().sum() == expected["like_count"].isna().sum() > 0

    channels = pd.read_parquet(out / "channels")
    assert len(channels) == 2 and set(channels["channel_id"].astype(str)) == {A, B}
    assert channels.loc[channels["channel_id"].astype(str) == B, "subscriber_count"].isna().all()
    comments = dd.read_parquet(str(out / "comments")).compute()
    assert sorted(comments["comment_id"]) == ["c0", "c1", "c2"]
    assert set(comments["channel_id"].astype(str)) == {A}


def test_every_table_exports_including_empty_ones(filled: Path | str, tmp_path: Path) -> None:
    out = tmp_path / "lake"
    with Warehouse.open(filled, read_only=True) as wh:
        counts = wh.table_counts()
        result = export_parquet(wh, out, list(EXPORT_SPECS))
    assert {t.table: t.rows for t in result.tables} == {t: counts[t] for t in EXPORT_SPECS}
    assert counts["retention_log"] == 0
    for item in result.tables:
        frame = pd.read_parquet(item.path)
        assert len(frame) == item.rows, item.table
    runs = pd.read_parquet(out / "collection_runs")
    assert sorted(runs["run_id"]) == [1, 2, 3] and runs["quota_spent"].tolist() == ["{}"] * 3
    quarantine = pd.read_parquet(out / "quarantine")
    assert sorted(quarantine["entity_id"]) == ["bad0", "bad1", "bad2"]
    assert sorted(json.loads(p)["id"] for p in quarantine["payload"]) == ["bad0", "bad1", "bad2"]


def test_re_export_replaces_the_previous_dataset(
    filled: Path | str, tmp_path: Path, clock: FixedClock
) -> None:
    out = tmp_path / "lake"
    run_export(out, db_path=filled, tables=["video_snapshots"], progress=False)
    with Warehouse.open(filled, clock=clock) as wh:
        wh.prune_snapshots(1, now=T0 + timedelta(days=10))
        remaining = wh.table_counts()["video_snapshots"]
    run_export(out, db_path=filled, tables=["video_snapshots"], progress=False, overwrite=True)
    assert len(pd.read_parquet(out / "video_snapshots")) == remaining == 8
    assert not list(out.glob(".*partial")) and not list(out.glob(".*old-*"))


def test_a_non_empty_target_is_refused_unless_overwrite_and_other_files_survive(
    filled: Path, tmp_path: Path
) -> None:
    out = tmp_path / "lake"
    mine = out / "videos" / "my-notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("keep me")
    (out / "README.txt").write_text("mine too")
    with pytest.raises(ConfigError, match=r"not empty.*--overwrite"):
        run_export(out, db_path=filled, tables=["videos"], progress=False)
    assert mine.read_text() == "keep me"  # refused: nothing was touched
    run_export(out, db_path=filled, tables=["videos"], progress=False, overwrite=True)
    assert len(pd.read_parquet(out / "videos")) == 8
    assert (out / "README.txt").read_text() == "mine too"  # only the exported table was replaced
    assert sorted(p.name for p in out.iterdir()) == ["README.txt", "videos"]


def test_bad_input_is_a_typed_error(filled: Path | str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown table 'nope'"):
        run_export(tmp_path / "lake", db_path=filled, tables=["nope"], progress=False)
    with pytest.raises(StorageError, match="no warehouse"):
        run_export(tmp_path / "lake", db_path=tmp_path / "missing.duckdb", progress=False)
    with pytest.raises(ConfigError, match="format"):
        run_export(tmp_path / "lake", db_path=filled, fmt="xml", progress=False)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        run_export(a_file, db_path=filled, progress=False)
    assert not (tmp_path / "lake").exists()


def test_progress_appears_only_for_exports_longer_than_a_second(
    filled: Path | str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tubescope.jobs.export as job

    quick = Console(record=True, force_terminal=True, width=100)
    run_export(tmp_path / "a", db_path=filled, console=quick)
    assert "export" not in quick.export_text()
    # A slow export (simulated by a tiny threshold) shows which table it is on and the count.
    monkeypatch.setattr(job, "PROGRESS_DELAY_SECONDS", 0.0)
    slow = Console(record=True, force_terminal=True, width=100)
    original = job.export_parquet

    def slow_export(*args: object, **kwargs: object) -> object:
        import time

        time.sleep(0.3)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(job, "export_parquet", slow_export)
    run_export(tmp_path / "b", db_path=filled, console=slow)
    assert "tables" in slow.export_text()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_cli_export_and_its_errors(filled: Path | str, tmp_path: Path) -> None:
    ok = _cli(
        "export",
        "--db",
        str(filled),
        "--format",
        "parquet",
        "--out",
        "lake",
        "--table",
        "videos",
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert "videos: 8 rows" in ok.stdout
    assert len(pd.read_parquet(tmp_path / "lake" / "videos")) == 8
    unknown = _cli("export", "--db", str(filled), "--out", "lake", "--table", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown table 'nope'" in unknown.stderr
    missing = _cli("export", "--db", "missing.duckdb", "--out", "lake", cwd=tmp_path)
    assert missing.returncode == 10 and "no warehouse at missing.duckdb" in missing.stderr
    again = _cli("export", "--db", str(filled), "--out", "lake", "--table", "videos", cwd=tmp_path)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    replaced = _cli(
        "export", "--db", str(filled), "--out", "lake", "--table", "videos", "--overwrite", cwd=tmp_path
    )
    assert replaced.returncode == 0, replaced.stderr
    for failed in (unknown, missing, again):
        assert "Traceback" not in failed.stderr
    assert not (tmp_path / "missing.duckdb").exists()


def test_a_crashed_exports_leftovers_are_replaced_and_an_impossible_folder_is_refused(
    filled: Path | str, tmp_path: Path
) -> None:
    out = tmp_path / "lake"
    leftover = out / ".videos.partial"
    leftover.mkdir(parents=True)
    (leftover / "half-written.parquet").write_bytes(b"PAR1 truncated")
    with Warehouse.open(filled, read_only=True) as warehouse:
        result = export_parquet(warehouse, out, ["videos"], overwrite=True)
        assert [t.table for t in result.tables] == ["videos"] and not leftover.exists()
        assert len(pd.read_parquet(out / "videos")) == result.tables[0].rows > 0
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        with pytest.raises(StorageError, match=f"cannot create {blocker / 'lake'}"):
            export_parquet(warehouse, blocker / "lake", ["videos"])
