"""``tubescope export --format csv|json|xlsx``: every row of every table, readable by the usual
tools, written atomically; an Excel sheet too small for a table is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from tests.warehouse.test_export import _source, filled  # noqa: F401 - the fixture is reused
from tubescope.errors import ConfigError
from tubescope.jobs.export import run_export
from tubescope.warehouse import Warehouse
from tubescope.warehouse import export_files as module
from tubescope.warehouse.export_files import export_files

TABLES = ("channels", "videos", "video_snapshots", "channel_snapshots", "comments")


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_one_file_per_table_with_every_row(filled: Path, tmp_path: Path, fmt: str) -> None:  # noqa: F811
    out = tmp_path / "out"
    result = run_export(out, db_path=filled, fmt=fmt, progress=False)
    assert {t.table for t in result.tables} == set(TABLES)
    for table in TABLES:
        expected = _source(filled, f"SELECT count(*) AS n FROM {table}")["n"].iloc[0]  # noqa: S608
        path = out / f"{table}.{fmt}"
        read = pd.read_csv(path) if fmt == "csv" else pd.DataFrame(json.loads(path.read_text()))
        assert len(read) == expected > 0, table
    snaps = pd.read_csv(out / "video_snapshots.csv") if fmt == "csv" else None
    if snaps is not None:
        assert snaps["like_count"].isna().any()  # hidden likes stay empty, never 0
    assert not list(out.glob(".*")), "no temporary file is left behind"


def test_xlsx_is_one_workbook_with_a_sheet_per_table(filled: Path, tmp_path: Path) -> None:  # noqa: F811
    result = run_export(tmp_path / "out", db_path=filled, fmt="xlsx", progress=False)
    book = openpyxl.load_workbook(tmp_path / "out" / "tubescope.xlsx", read_only=True)
    assert book.sheetnames == list(TABLES)
    for item in result.tables:
        rows = list(book[item.table].iter_rows(values_only=True))
        assert len(rows) - 1 == item.rows > 0, item.table
    header = next(book["video_snapshots"].iter_rows(values_only=True))
    assert "observed_at" in header


def test_a_table_too_big_for_a_sheet_is_refused_before_writing(
    filled: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "XLSX_MAX_ROWS", 3)
    with (
        Warehouse.open(filled, read_only=True) as warehouse,
        pytest.raises(ConfigError, match="csv or parquet"),
    ):
        export_files(warehouse, tmp_path / "out", ["video_snapshots"], fmt="xlsx")
    assert not (tmp_path / "out" / "tubescope.xlsx").exists()


def test_a_folder_with_files_is_refused_without_overwrite(filled: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    run_export(out, db_path=filled, fmt="csv", progress=False)
    with pytest.raises(ConfigError, match="--overwrite"):
        run_export(out, db_path=filled, fmt="csv", progress=False)
    again = run_export(out, db_path=filled, fmt="csv", progress=False, overwrite=True)
    assert {p.name for p in out.iterdir()} == {f"{t.table}.csv" for t in again.tables}


def test_an_unknown_format_names_the_supported_ones(filled: Path, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(ConfigError, match="parquet, csv, json, xlsx"):
        run_export(tmp_path, db_path=filled, fmt="xml", progress=False)


def test_a_destination_that_cannot_be_a_folder_is_a_typed_error(filled: Path, tmp_path: Path) -> None:  # noqa: F811
    from tubescope.errors import StorageError

    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    with Warehouse.open(filled, read_only=True) as warehouse:
        with pytest.raises(ConfigError, match="unknown file format 'xml'; supported: csv, json, xlsx"):
            export_files(warehouse, tmp_path / "out", fmt="xml")
        with pytest.raises(ConfigError, match=f"--out {a_file} exists and is not a folder"):
            export_files(warehouse, a_file)
        with pytest.raises(StorageError, match=f"cannot create {a_file / 'below'}"):
            export_files(warehouse, a_file / "below")
    assert a_file.read_text() == "not a folder"
