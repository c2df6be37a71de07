"""Processes share one DuckDB file: a waiting open knocks, holders let go, dead knocks are ignored."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tubescope.errors import StorageError
from tubescope.jobs.catalog import WarehousePool
from tubescope.warehouse import Warehouse
from tubescope.warehouse.filelease import WarehouseLocked, knocking, wait_for_file


def _holder(db: Path, body: str) -> subprocess.Popen[str]:
    """A second process that holds ``db`` the way ``body`` says, printing 'ready' once it does."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from tubescope.warehouse import Warehouse
        db = Path({str(db)!r})
        """
    ) + textwrap.dedent(body)
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "ready", process.stderr.read() if process.stderr else line
    return process


def test_a_knock_of_a_dead_process_is_ignored_and_removed(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    db.touch()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    stale = tmp_path / f"w.duckdb.knock-{dead.stdout.strip()}-0"
    stale.touch()
    assert not knocking(db, fresh=True)
    assert not stale.exists()


def test_a_knock_of_a_live_process_is_seen(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / f"w.duckdb.knock-{sleeper.pid}-0").touch()
        assert knocking(db, fresh=True)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not knocking(db, fresh=True)


def test_an_unleased_holder_makes_the_wait_fail_with_one_clear_line(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Warehouse.open(db).close()
    holder = _holder(db, "w = Warehouse.open(db)\nprint('ready', flush=True)\ntime.sleep(30)\n")
    try:
        with pytest.raises(WarehouseLocked, match="in use by another tubescope process"):
            Warehouse.open(db, read_only=True, wait_seconds=0)
        told: list[WarehouseLocked] = []
        started = time.monotonic()
        with pytest.raises(StorageError, match=r"stayed in use by another process \(pid \d+\) for 1 s"):
            Warehouse.open(db, read_only=True, wait_seconds=1, on_wait=told.append)
        assert 0.9 < time.monotonic() - started < 10
        assert len(told) == 1 and told[0].holder_pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_leased_writer_lets_a_reader_in_between_transactions_and_carries_on(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Warehouse.open(db).close()
    holder = _holder(
        db,
        """
        w = Warehouse.open(db, lease=True)
        with w.transaction() as con:
            con.rows("CREATE TABLE ticks (n INTEGER)")
        print("ready", flush=True)
        for n in range(60):
            with w.transaction() as con:
                con.rows("INSERT INTO ticks VALUES (?)", [n])
            time.sleep(0.05)
        w.close()
        """,
    )
    try:
        started = time.monotonic()
        with Warehouse.open(db, read_only=True, wait_seconds=20) as reader:
            waited = time.monotonic() - started
            seen = int(reader.query("SELECT count(*) AS n FROM ticks")["n"].iloc[0])
        assert waited < 5
        assert 0 < seen < 60
        assert holder.wait(timeout=60) == 0, holder.stderr.read() if holder.stderr else ""
    finally:
        holder.kill()
    with Warehouse.open(db, read_only=True) as after:
        assert int(after.query("SELECT count(DISTINCT n) AS n FROM ticks")["n"].iloc[0]) == 60


def test_the_pool_hands_its_file_over_and_notices_a_new_run(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    Warehouse.open(db).close()
    changes: list[list[str]] = []
    pool = WarehousePool(db, on_change=changes.append)
    try:
        with pool.borrow() as warehouse:
            assert warehouse.run_summaries() == []
        writer = subprocess.run(
            [
                sys.executable,
                "-c",
                "from datetime import UTC, datetime\n"
                "from tubescope.warehouse import Warehouse\n"
                f"w = Warehouse.open({str(db)!r}, wait_seconds=20)\n"
                "run = w.start_run('test', ['UCx'], [])\n"
                "w.finish_run(run, 'completed', None, {}, finished_at=datetime.now(UTC))\n"
                "w.close()\n",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert writer.returncode == 0, writer.stderr
        assert pool.handovers >= 1
        with pool.borrow() as warehouse:
            assert [run.status for run in warehouse.run_summaries()] == ["completed"]
        assert changes == [[]]  # no channel stored: the run alone changed
        with pool.borrow() as warehouse:  # nothing changed since: no second notice
            warehouse.run_summaries()
        assert changes == [[]]
    finally:
        pool.close()


def test_wait_for_file_returns_at_once_when_free(tmp_path: Path) -> None:
    calls: list[int] = []

    def attempt() -> int:
        calls.append(1)
        return 7

    assert wait_for_file(tmp_path / "x.duckdb", attempt) == 7
    assert calls == [1]
