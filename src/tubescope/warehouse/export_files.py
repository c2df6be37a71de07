"""Export warehouse tables as plain files: CSV, JSON or one Excel workbook.

``tubescope export --format csv|json`` writes ``OUT/<table>.csv`` (or ``.json``, an array of
objects) per table, streamed by DuckDB; ``--format xlsx`` writes ``OUT/tubescope.xlsx`` with one
sheet per table (times in UTC, without a zone, as Excel has none). Each file is written beside
its final name and renamed into place, so a failed export never leaves half a file. The Parquet
lake is :mod:`tubescope.warehouse.export`.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tubescope.errors import ConfigError, StorageError
from tubescope.warehouse.db import run_sql
from tubescope.warehouse.export import (
    EXPORT_SPECS,
    ExportResult,
    ProgressCallback,
    TableExport,
    resolve_tables,
)
from tubescope.warehouse.repository import Warehouse

FILE_FORMATS = ("csv", "json", "xlsx")
XLSX_MAX_ROWS = 1_048_575
"""Data rows an Excel sheet holds (one more row is the header)."""
WORKBOOK_NAME = "tubescope.xlsx"


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _temporary_beside(final: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{final.name}.", dir=final.parent)
    os.close(handle)
    return Path(name)


def _copy_table(warehouse: Warehouse, table: str, out_dir: Path, fmt: str) -> TableExport:
    spec = EXPORT_SPECS[table]
    final = out_dir / f"{table}.{fmt}"
    staging = _temporary_beside(final)
    try:
        if warehouse.backend == "duckdb":
            # DuckDB streams the rows to the file itself (no copy in memory).
            options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT json, ARRAY true"
            con = warehouse.connection()
            run_sql(con, f"COPY ({spec.select}) TO {_quote(staging)} ({options})")
            row = con.execute(f"SELECT count(*) FROM ({spec.select})").fetchone()  # noqa: S608 -- fixed specs
            rows = int(row[0]) if row else 0
        else:
            frame = warehouse.query_arrow(spec.select_for(warehouse.backend)).to_pandas()
            if fmt == "csv":
                frame.to_csv(staging, index=False)
            else:
                frame.to_json(staging, orient="records", date_format="iso")
            rows = len(frame)
        staging.replace(final)
    except Exception as exc:
        staging.unlink(missing_ok=True)
        raise StorageError(f"exporting {table} to {final} failed: {exc}") from exc
    return TableExport(table, rows, 1, final, ())


def _workbook(
    warehouse: Warehouse, names: Sequence[str], out_dir: Path, on_progress: ProgressCallback | None
) -> list[TableExport]:
    from openpyxl import Workbook

    tables = {}
    for name in names:
        # Read first, so a table too big for a sheet is refused before anything is written.
        tables[name] = warehouse.query_arrow(EXPORT_SPECS[name].select_for(warehouse.backend))
        if tables[name].num_rows > XLSX_MAX_ROWS:
            raise ConfigError(
                f"{name} has {tables[name].num_rows:,} rows, more than an Excel sheet holds "
                f"({XLSX_MAX_ROWS:,}); export it with --format csv or parquet, or pick tables with --table"
            )
    final = out_dir / WORKBOOK_NAME
    book = Workbook(write_only=True)
    done = []
    for index, name in enumerate(names):
        if on_progress:
            on_progress(name, index, len(names))
        sheet = book.create_sheet(title=name[:31])
        table = tables[name]
        sheet.append(list(table.column_names))
        # Times as UTC wall-clock values: Excel cells cannot hold a time zone.
        for batch in table.to_batches(max_chunksize=10_000):
            for record in batch.to_pylist():
                sheet.append([_utc_naive(v) for v in record.values()])
        done.append(TableExport(name, table.num_rows, 1, final, ()))
    staging = _temporary_beside(final)
    try:
        book.save(staging)
        staging.replace(final)
    except Exception as exc:
        staging.unlink(missing_ok=True)
        raise StorageError(f"writing {final} failed: {exc}") from exc
    return done


def _utc_naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        offset = value.utcoffset()
        return (value - offset if offset else value).replace(tzinfo=None)
    if isinstance(value, list | dict | tuple):
        return str(value)
    return value


def export_files(
    warehouse: Warehouse,
    out_dir: Path,
    tables: Sequence[str] | None = None,
    *,
    fmt: str = "csv",
    on_progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write the tables as ``fmt`` files under ``out_dir``.

    A non-empty ``out_dir`` is refused with :class:`~tubescope.errors.ConfigError` unless
    ``overwrite``; then only the files of the exported tables are replaced, each atomically.
    """
    if fmt not in FILE_FORMATS:
        raise ConfigError(f"unknown file format {fmt!r}; supported: {', '.join(FILE_FORMATS)}")
    names = resolve_tables(tables)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} exists and is not a folder")
    present = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    if present and not overwrite:
        shown = ", ".join(present[:5]) + (", …" if len(present) > 5 else "")
        raise ConfigError(
            f"--out {out_dir} is not empty ({shown}); choose an empty folder or pass --overwrite"
            " to replace the exported files in it"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {out_dir}: {exc.strerror}") from None
    started = time.perf_counter()
    if fmt == "xlsx":
        done = _workbook(warehouse, names, out_dir, on_progress)
    else:
        done = []
        for index, name in enumerate(names):
            if on_progress:
                on_progress(name, index, len(names))
            done.append(_copy_table(warehouse, name, out_dir, fmt))
    if on_progress:
        on_progress("", len(names), len(names))
    return ExportResult(out_dir, tuple(done), time.perf_counter() - started)
