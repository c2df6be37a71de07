"""``tubescope archive`` and ``tubescope restore`` as a user runs them (CLI subprocesses on a real
DuckDB file and a file:// archive), and the job's parsing of ages and days."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.archive_fill import START, fill
from tubescope.errors import ConfigError, StorageError
from tubescope.jobs.archive import parse_age, parse_day, run_archive, run_restore

DAYS = 20


def tubescope(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, as a user runs it."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def keys(db: Path, table: str) -> int:
    """Distinct videos or channels with snapshots: each one's newest row stays hot."""
    column = "video_id" if table == "video_snapshots" else "channel_id"
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(f"SELECT count(DISTINCT {column}) FROM {table}").fetchone()  # noqa: S608
    assert found is not None
    return int(found[0])


def hot_rows(db: Path, table: str, *, before: datetime | None = None, since: datetime | None = None) -> int:
    """Rows of ``table`` in the warehouse file, counted with plain DuckDB (not tubescope)."""
    sql = f"SELECT count(*) FROM {table} WHERE true"  # noqa: S608 - a fixed table name
    params: list[datetime] = []
    if before is not None:
        sql += " AND observed_at < ?"
        params.append(before)
    if since is not None:
        sql += " AND observed_at >= ?"
        params.append(since)
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(sql, params).fetchone()
    assert found is not None
    return int(found[0])


@pytest.mark.parametrize(
    ("text", "days"),
    [("90d", 90), ("12w", 84), ("  7 ", 7), ("2W", 14)],
    ids=["days", "weeks", "bare", "upper"],
)
def test_ages_in_days_or_weeks(text: str, days: int) -> None:
    assert parse_age(text) == timedelta(days=days)


@pytest.mark.parametrize(
    ("text", "reason"), [("0d", "at least one day"), ("ninety", "number of days"), ("3m", "invalid age '3m'")]
)
def test_bad_ages_are_config_errors(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_age(text)


def test_days_and_zoned_times_become_utc() -> None:
    assert parse_day("2026-01-31", "--from") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_day("2026-01-31T02:00:00+02:00", "--to") == datetime(2026, 1, 31, tzinfo=UTC)
    with pytest.raises(ConfigError, match="time zone"):
        parse_day("2026-01-31T02:00:00", "--to")
    with pytest.raises(ConfigError, match=r"invalid --from '31/01/2026'"):
        parse_day("31/01/2026", "--from")


def test_archive_then_restore_from_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    last = fill(db, days=DAYS)
    tables = ("video_snapshots", "channel_snapshots")
    newest = {t: keys(db, t) for t in tables}
    snapshots = sum(hot_rows(db, t) for t in tables) - sum(newest.values())
    assert snapshots > 0 and last < datetime.now(UTC) - timedelta(days=1)
    cold = tmp_path / "cold"

    archived = tubescope("archive", "--db", str(db), "--to", cold.as_uri(), "--older-than", "1d", "--json")
    assert archived.returncode == 0, archived.stderr
    moved = json.loads(archived.stdout)
    assert moved["rows"] == snapshots == sum(s["rows"] for s in moved["segments"])
    assert {s["table"] for s in moved["segments"]} == {"video_snapshots", "channel_snapshots"}
    assert all((cold / s["path"]).is_file() for s in moved["segments"])  # Parquet, relative to --to
    assert {t: hot_rows(db, t) for t in tables} == newest  # each key's newest row stays hot

    # a week back, one table, in the terminal's words
    start, end = START.date() + timedelta(days=3), START.date() + timedelta(days=10)
    restored = tubescope(
        "restore", "--db", str(db), "--from", str(start), "--to", str(end), "--table", "video_snapshots"
    )
    assert restored.returncode == 0, restored.stderr
    back = hot_rows(db, "video_snapshots") - newest["video_snapshots"]
    assert back > 0 and hot_rows(db, "channel_snapshots") == newest["channel_snapshots"]
    assert f"restored {back} video_snapshots rows observed from {start}T00:00:00+00:00" in restored.stdout
    begin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    assert hot_rows(db, "video_snapshots", since=begin, before=begin + timedelta(days=7)) == back

    # the rest of both tables, as JSON
    rest = tubescope("restore", "--db", str(db), "--from", "2025-01-01", "--to", "2027-01-01", "--json")
    assert rest.returncode == 0, rest.stderr
    rows = json.loads(rest.stdout)["rows"]
    assert sum(rows.values()) + back == snapshots
    assert sum(hot_rows(db, t) for t in tables) == snapshots + sum(newest.values())


def test_archive_text_names_each_table_and_an_empty_run(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    last = fill(db, days=DAYS)
    cold = str(tmp_path / "cold")
    nothing = run_archive(db, to=cold, older_than="30d", clock=lambda: last)
    assert nothing.outcome.rows == 0
    assert nothing.text().startswith("archived nothing observed before")
    cutoff = last - timedelta(days=10)
    expected = {t: hot_rows(db, t, before=cutoff) for t in ("video_snapshots", "channel_snapshots")}
    summary = run_archive(db, to=cold, older_than="10d", clock=lambda: last)
    assert summary.as_dict()["cutoff"] == cutoff.isoformat()
    assert (
        f"archived {expected['video_snapshots']} video_snapshots rows, "
        f"{expected['channel_snapshots']} channel_snapshots rows observed before {cutoff.isoformat()}"
    ) in summary.text()
    assert f"in {len(summary.outcome.segments)} verified segment(s)" in summary.text()
    again = run_restore(db, start="2025-12-01", end=cutoff.isoformat(), clock=lambda: last)
    assert again.outcome.rows == expected and again.as_dict()["to"] == cutoff.isoformat()


def test_refusals_are_one_line_and_a_typed_exit(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    fill(db, days=3)
    strict = tubescope(
        "archive",
        "--db",
        str(db),
        "--to",
        (tmp_path / "cold").as_uri(),
        env={"TUBESCOPE_RETENTION_MODE": "strict"},
    )
    assert strict.returncode == ConfigError.exit_code and "retention.mode is strict" in strict.stderr
    missing = tubescope(
        "restore", "--db", str(tmp_path / "none.duckdb"), "--from", "2026-01-01", "--to", "2026-02-01"
    )
    assert missing.returncode == StorageError.exit_code and "no warehouse at" in missing.stderr
    bad_age = tubescope("archive", "--db", str(db), "--to", (tmp_path / "c").as_uri(), "--older-than", "soon")
    assert bad_age.returncode == ConfigError.exit_code and "invalid age 'soon'" in bad_age.stderr
    for result in (strict, missing, bad_age):
        assert "Traceback" not in result.stderr
    with pytest.raises(StorageError, match="no warehouse"):
        run_archive(tmp_path / "none.duckdb", to=str(tmp_path / "cold"))
