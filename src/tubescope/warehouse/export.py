"""Parquet export: any warehouse table as a hive-partitioned dataset.

Layout: ``OUT/<table>/channel_id=<id>/snapshot_date=<YYYY-MM-DD>/data_0.parquet``. The two
partition keys live in the directory names, which DuckDB, pyarrow/pandas and Dask all read back
as columns. ``snapshot_date`` is the UTC date the row was observed or fetched; tables with no
channel (runs, quarantine, retention log) are partitioned by date only. JSON columns become
strings so every reader sees plain text.

The export refuses a target folder that already holds anything unless ``overwrite`` is given, and
even then it only replaces the table folders it writes. Every table is written to a temporary folder
first and renamed into place when complete (the old folder is moved aside, then removed), so a
failed export never leaves a half-written table, nor a table missing where an old one was.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tubescope.errors import ConfigError, StorageError
from tubescope.warehouse.db import run_sql
from tubescope.warehouse.repository import Warehouse

FORMATS = ("parquet",)


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """How one table is exported: its query, partitioning and portable form."""

    select: str
    partition_by: tuple[str, ...]
    portable_select: str | None = None
    """The same rows in SQL PostgreSQL also reads (JSON arrives there as text already); None when
    ``select`` itself is portable."""

    def select_for(self, backend: str) -> str:
        """The SELECT for ``backend`` ("duckdb" or "postgresql")."""
        return self.select if backend == "duckdb" or self.portable_select is None else self.portable_select


EXPORT_SPECS: dict[str, ExportSpec] = {
    "channels": ExportSpec(
        "SELECT *, CAST(fetched_at AS DATE) AS snapshot_date FROM channels", ("channel_id", "snapshot_date")
    ),
    "channel_snapshots": ExportSpec(
        "SELECT *, CAST(observed_at AS DATE) AS snapshot_date FROM channel_snapshots",
        ("channel_id", "snapshot_date"),
    ),
    "videos": ExportSpec(
        "SELECT *, CAST(fetched_at AS DATE) AS snapshot_date FROM videos", ("channel_id", "snapshot_date")
    ),
    "video_snapshots": ExportSpec(
        "SELECT *, CAST(observed_at AS DATE) AS snapshot_date FROM video_snapshots",
        ("channel_id", "snapshot_date"),
    ),
    "comments": ExportSpec(
        "SELECT c.* REPLACE (CAST(c.extra AS VARCHAR) AS extra), v.channel_id,"
        " CAST(c.fetched_at AS DATE) AS snapshot_date FROM comments c JOIN videos v USING (video_id)",
        ("channel_id", "snapshot_date"),
        "SELECT c.*, v.channel_id, CAST(c.fetched_at AS DATE) AS snapshot_date"
        " FROM comments c JOIN videos v USING (video_id)",
    ),
    "video_status_events": ExportSpec(
        "SELECT e.*, v.channel_id, CAST(e.event_at AS DATE) AS snapshot_date"
        " FROM video_status_events e JOIN videos v USING (video_id)",
        ("channel_id", "snapshot_date"),
    ),
    "collection_runs": ExportSpec(
        "SELECT * REPLACE (CAST(quota_spent AS VARCHAR) AS quota_spent,"
        " CAST(counters AS VARCHAR) AS counters), CAST(started_at AS DATE) AS snapshot_date"
        " FROM collection_runs",
        ("snapshot_date",),
        "SELECT *, CAST(started_at AS DATE) AS snapshot_date FROM collection_runs",
    ),
    "quarantine": ExportSpec(
        "SELECT * REPLACE (CAST(payload AS VARCHAR) AS payload), CAST(created_at AS DATE) AS snapshot_date"
        " FROM quarantine",
        ("snapshot_date",),
        "SELECT *, CAST(created_at AS DATE) AS snapshot_date FROM quarantine",
    ),
    "collection_checkpoints": ExportSpec(
        "SELECT *, CAST(updated_at AS DATE) AS snapshot_date FROM collection_checkpoints",
        ("channel_id", "snapshot_date"),
    ),
    "checkpoint_videos_done": ExportSpec("SELECT * FROM checkpoint_videos_done", ("channel_id",)),
    "channel_state": ExportSpec(
        "SELECT *, CAST(updated_at AS DATE) AS snapshot_date FROM channel_state",
        ("channel_id", "snapshot_date"),
    ),
    "retention_log": ExportSpec(
        "SELECT *, CAST(pruned_at AS DATE) AS snapshot_date FROM retention_log", ("snapshot_date",)
    ),
}
DEFAULT_EXPORT_TABLES = ("channels", "videos", "video_snapshots", "channel_snapshots", "comments")


@dataclass(frozen=True, slots=True)
class TableExport:
    """One exported table: its rows, files and partitioning."""

    table: str
    rows: int
    files: int
    path: Path
    partition_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExportResult:
    """Every table exported, where, and how long it took."""

    out_dir: Path
    tables: tuple[TableExport, ...]
    seconds: float

    @property
    def rows(self) -> int:
        """Rows exported in all tables."""
        return sum(t.rows for t in self.tables)


ProgressCallback = Callable[[str, int, int], None]
"""Called as ``(table, tables_done, tables_total)`` before each table and once at the end."""


def resolve_tables(tables: Sequence[str] | None) -> tuple[str, ...]:
    """Validated table names (``None`` or empty: the default analytic tables)."""
    if not tables:
        return DEFAULT_EXPORT_TABLES
    unknown = [t for t in tables if t not in EXPORT_SPECS]
    if unknown:
        raise ConfigError(
            f"unknown table {', '.join(map(repr, unknown))}; exportable tables: {', '.join(EXPORT_SPECS)}"
        )
    return tuple(dict.fromkeys(tables))


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _write_arrow(warehouse: Warehouse, spec: ExportSpec, staging: Path) -> int:
    """Read the rows into Arrow and write the same hive layout with pyarrow (PostgreSQL)."""
    table = warehouse.query_arrow(spec.select_for(warehouse.backend))
    if table.num_rows:
        ds.write_dataset(
            table,
            staging,
            format="parquet",
            partitioning=list(spec.partition_by),
            partitioning_flavor="hive",
            basename_template="data_{i}.parquet",
            file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
        )
    else:
        staging.mkdir(parents=True)
        pq.write_table(table, staging / "empty.parquet")
    return int(table.num_rows)


def export_table(warehouse: Warehouse, table: str, out_dir: Path) -> TableExport:
    """Export one table of the warehouse under ``out_dir``."""
    spec = EXPORT_SPECS[table]
    final = out_dir / table
    staging = out_dir / f".{table}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    if warehouse.backend != "duckdb":
        try:
            rows = _write_arrow(warehouse, spec, staging)
        except Exception as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StorageError(f"exporting {table} to {final} failed: {exc}") from exc
        return _finish_table(staging, final, table, rows, spec)
    con = warehouse.connection()
    row = con.execute(f"SELECT count(*) FROM ({spec.select})").fetchone()  # noqa: S608 -- fixed specs
    rows = int(row[0]) if row else 0
    try:
        if rows:
            run_sql(
                con,
                f"COPY ({spec.select}) TO {_quote_path(staging)} "
                f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({', '.join(spec.partition_by)}))",
            )
        else:
            # An empty dataset still carries its schema, so readers get typed empty frames.
            staging.mkdir(parents=True)
            run_sql(
                con,
                f"COPY ({spec.select} LIMIT 0) TO {_quote_path(staging / 'empty.parquet')} (FORMAT parquet)",
            )
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise StorageError(f"exporting {table} to {final} failed: {exc}") from exc
    return _finish_table(staging, final, table, rows, spec)


def _finish_table(staging: Path, final: Path, table: str, rows: int, spec: ExportSpec) -> TableExport:
    _swap_in(staging, final)
    files = sum(1 for _ in final.rglob("*.parquet"))
    return TableExport(table, rows, files, final, spec.partition_by if rows else ())


def _swap_in(staging: Path, final: Path) -> None:
    """Put ``staging`` at ``final`` with renames only; an old ``final`` is removed afterwards."""
    aside = final.with_name(f".{final.name}.old-{os.getpid()}")
    try:
        if final.exists():
            final.rename(aside)
        staging.rename(final)
    except OSError as exc:
        if aside.exists() and not final.exists():
            aside.rename(final)
        shutil.rmtree(staging, ignore_errors=True)
        raise StorageError(f"cannot move the export of {final.name} into place: {exc.strerror}") from None
    shutil.rmtree(aside, ignore_errors=True)


def _existing_entries(out_dir: Path) -> list[str]:
    """What is in ``out_dir`` already, ignoring staging folders a killed export left behind."""
    if not out_dir.is_dir():
        return []
    return sorted(p.name for p in out_dir.iterdir() if not p.name.endswith(".partial"))


def export_parquet(
    warehouse: Warehouse,
    out_dir: Path,
    tables: Sequence[str] | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write each table under ``out_dir/<table>/``.

    A non-empty ``out_dir`` is refused with :class:`~tubescope.errors.ConfigError` unless
    ``overwrite``; then only the folders of the exported tables are replaced, each atomically.
    """
    names = resolve_tables(tables)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} exists and is not a folder")
    present = _existing_entries(out_dir)
    if present and not overwrite:
        shown = ", ".join(present[:5]) + (", …" if len(present) > 5 else "")
        raise ConfigError(
            f"--out {out_dir} is not empty ({shown}); choose an empty folder or pass --overwrite"
            " to replace the exported tables in it"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {out_dir}: {exc.strerror}") from None
    started = time.perf_counter()
    done: list[TableExport] = []
    for index, name in enumerate(names):
        if on_progress:
            on_progress(name, index, len(names))
        done.append(export_table(warehouse, name, out_dir))
    if on_progress:
        on_progress("", len(names), len(names))
    return ExportResult(out_dir, tuple(done), time.perf_counter() - started)
