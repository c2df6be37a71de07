"""The export job: warehouse tables to a Parquet lake (``tubescope export``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tubescope.config import load_settings
from tubescope.errors import ConfigError, StorageError
from tubescope.warehouse import Warehouse
from tubescope.warehouse.export import FORMATS, ExportResult, export_parquet, resolve_tables
from tubescope.warehouse.export_files import FILE_FORMATS, export_files
from tubescope.warehouse.target import WarehouseTarget, parse_target

PROGRESS_DELAY_SECONDS = 1.0


class _LateProgress:
    """A Rich progress bar that only appears once the export has run for a second.

    Short exports print nothing but their summary; long ones show which table is being written.
    """

    def __init__(self, console: Console | None, enabled: bool, delay: float | None = None) -> None:
        self._enabled = enabled
        self._lock = threading.Lock()
        self._shown = False
        self._finished = False
        self._progress = Progress(
            TextColumn("[bold]export[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} tables"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("", total=None)
        self._timer = threading.Timer(PROGRESS_DELAY_SECONDS if delay is None else delay, self._show)
        self._timer.daemon = True

    def __enter__(self) -> _LateProgress:
        if self._enabled:
            self._timer.start()
        return self

    def _show(self) -> None:
        with self._lock:
            if not self._finished:
                self._progress.start()
                self._shown = True

    @property
    def shown(self) -> bool:
        return self._shown

    def update(self, table: str, done: int, total: int) -> None:
        self._progress.update(self._task, description=table or "done", completed=done, total=total)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()
        with self._lock:
            self._finished = True
            if self._shown:
                self._progress.stop()


def run_export(
    out_dir: Path,
    *,
    db_path: WarehouseTarget | str | None = None,
    fmt: str = "parquet",
    tables: Sequence[str] = (),
    progress: bool = True,
    console: Console | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export warehouse tables; the database is opened read-only and must already exist.

    A non-empty ``out_dir`` is refused unless ``overwrite`` (see :func:`export_parquet`)."""
    if fmt not in FORMATS and fmt not in FILE_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; supported: {', '.join((*FORMATS, *FILE_FORMATS))}")
    names = resolve_tables(tables)  # refuse a bad --table before touching any file
    path = parse_target(db_path) if db_path is not None else load_settings().warehouse_target
    if isinstance(path, Path) and not path.is_file():
        raise StorageError(f"no warehouse at {path}: run `tubescope collect` first or pass --db")
    with Warehouse.open(path, read_only=True) as warehouse, _LateProgress(console, progress) as bar:
        if fmt in FILE_FORMATS:
            return export_files(
                warehouse, out_dir, names, fmt=fmt, on_progress=bar.update, overwrite=overwrite
            )
        return export_parquet(warehouse, out_dir, names, on_progress=bar.update, overwrite=overwrite)
