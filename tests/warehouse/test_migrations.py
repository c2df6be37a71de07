from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tubescope.errors import SchemaVersionError, StorageError
from tubescope.warehouse import LATEST_VERSION, Warehouse
from tubescope.warehouse import migrations as mig

from .conftest import T0, FixedClock, vsnap

V1_DATA = """
INSERT INTO collection_runs (run_id, source, started_at, status, channel_refs, key_fingerprints)
VALUES (nextval('run_id_seq'), 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00', 'running',
        ['@old'], ['key-aaaaaaaaaa']);
INSERT INTO channels VALUES ('UCold', 'Old', '@old', '', TIMESTAMPTZ '2020-01-01 00:00:00+00', NULL,
    NULL, 'UUold', NULL, true, 900, 2, 1, 1, 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00');
INSERT INTO channel_snapshots VALUES ('UCold', 1, TIMESTAMPTZ '2026-01-01 00:00:00+00', NULL, 900, 2,
    'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00');
INSERT INTO videos VALUES ('vid_old_001', 'UCold', 't', '', TIMESTAMPTZ '2025-12-01 00:00:00+00', 30,
    'PT30S', 'short', ['a', 'b'], '22', NULL, 'none', 'public', 1, 1, 'youtube',
    TIMESTAMPTZ '2026-01-01 00:00:00+00');
INSERT INTO video_snapshots VALUES
    ('vid_old_001', 'UCold', 1, TIMESTAMPTZ '2025-12-31 00:00:00+00', 400, NULL, 3, 'youtube',
     TIMESTAMPTZ '2025-12-31 00:00:00+00'),
    ('vid_old_001', 'UCold', 1, TIMESTAMPTZ '2026-01-01 00:00:00+00', 500, NULL, 4, 'youtube',
     TIMESTAMPTZ '2026-01-01 00:00:00+00');
"""

V2_DATA = """
UPDATE videos SET is_deleted = true, deleted_at = TIMESTAMPTZ '2026-01-01 00:00:00+00',
    deleted_reason = 'private', deleted_run_id = 1;
INSERT INTO video_status_events VALUES ('vid_old_001', 1, TIMESTAMPTZ '2026-01-01 00:00:00+00',
    'deleted', 'private');
INSERT INTO quarantine VALUES (nextval('quarantine_id_seq'), 1, 'video', 'bad', '{"id": "bad"}',
    'published_in_future', 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00');
"""

DATA_WRITTEN_AT = {1: V1_DATA, 2: V2_DATA}


def make_db_at(path: Path, version: int) -> None:
    """A database as an older tubescope left it: each step's data written under that step's schema."""
    con = duckdb.connect(str(path))
    try:
        for step in range(1, version + 1):
            assert mig.migrate(con, now=T0, target=step) == step
            if step in DATA_WRITTEN_AT:
                con.execute(DATA_WRITTEN_AT[step])
    finally:
        con.close()


def test_a_new_database_is_created_at_the_latest_version(db_path: Path) -> None:
    with Warehouse.open(db_path) as wh:
        assert wh.schema_version == LATEST_VERSION
        versions = wh.query("SELECT version FROM schema_version ORDER BY version")["version"].tolist()
    assert versions == list(range(1, LATEST_VERSION + 1))


def test_there_is_more_than_one_migration_so_upgrades_are_exercised() -> None:
    assert LATEST_VERSION >= 3
    assert [m.version for m in mig.MIGRATIONS] == list(range(1, LATEST_VERSION + 1))


@pytest.mark.parametrize("old_version", range(1, LATEST_VERSION))
def test_every_older_version_migrates_and_keeps_its_data(db_path: Path, old_version: int) -> None:
    make_db_at(db_path, old_version)
    clock = FixedClock(datetime(2026, 1, 2, tzinfo=UTC))
    with Warehouse.open(db_path, clock=clock) as wh:
        assert wh.schema_version == LATEST_VERSION
        frames = wh.load_frames()
        snaps = wh.query("SELECT * FROM video_snapshots ORDER BY observed_at")
        # Hidden-count flags are backfilled from the NULLs v1 stored (never turned into 0).
        assert snaps["like_count"].isna().all()
        assert snaps["likes_hidden"].tolist() == [True, True]
        assert snaps["comments_hidden"].tolist() == [False, False]
        channel_snap = wh.query("SELECT * FROM channel_snapshots")
        assert channel_snap["subscribers_hidden"].tolist() == [True]
        # Latest counts are backfilled from the newest stored snapshot.
        videos = frames["videos"]
        assert videos["view_count"].tolist() == [500]
        assert videos["comment_count"].tolist() == [4]
        assert videos["like_count"].isna().all()
        assert videos["is_deleted"].tolist() == [old_version >= 2]
        assert len(wh.quarantined()) == (1 if old_version >= 2 else 0)
        # The migrated database takes new writes, and the old run can be resumed and written to.
        run = wh.resume_run(1)
        assert run.attempts == 2
        later = vsnap("vid_old_001", 650, at=datetime(2026, 1, 2, tzinfo=UTC))
        # The resumed run already holds a snapshot of this video: idempotency keeps the old one.
        assert wh.record_video_snapshots(1, [later]).skipped == 1
        new_run = wh.start_run("youtube", ["@new"], [])
        assert new_run == 2
        assert wh.record_video_snapshots(new_run, [later]).inserted == 1
        assert wh.load_frames()["videos"]["view_count"].tolist() == [650]


def test_a_newer_database_is_refused_with_a_clear_message(db_path: Path) -> None:
    with Warehouse.open(db_path):
        pass
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO schema_version VALUES (?, 'from the future', now())", [LATEST_VERSION + 2])
    con.close()
    with pytest.raises(SchemaVersionError) as info:
        Warehouse.open(db_path)
    assert str(info.value) == (
        f"database schema v{LATEST_VERSION + 2} is newer than this tubescope (v{LATEST_VERSION});"
        " upgrade tubescope"
    )
    with pytest.raises(SchemaVersionError):
        Warehouse.open(db_path, read_only=True)


def test_read_only_open_of_an_old_database_migrates_it_first_unless_told_not_to(db_path: Path) -> None:
    make_db_at(db_path, 1)
    with pytest.raises(StorageError, match="needs migrating to v"):
        Warehouse.open(db_path, read_only=True, migrate=False)
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (1,)
    con.close()
    with Warehouse.open(db_path, read_only=True) as wh:
        assert wh.read_only and wh.schema_version == LATEST_VERSION
        assert wh.load_frames()["videos"]["view_count"].tolist() == [500]
        with pytest.raises(StorageError, match="read-only"):
            wh.transaction()


def test_a_failing_migration_leaves_the_old_schema_untouched(db_path: Path) -> None:
    make_db_at(db_path, 1)
    con = duckdb.connect(str(db_path))
    # A column that migration 2 wants to add already exists: v2 must fail as a whole.
    con.execute("ALTER TABLE videos ADD COLUMN is_deleted BOOLEAN")
    con.close()
    with pytest.raises(StorageError, match="schema migration"):
        Warehouse.open(db_path)
    con = duckdb.connect(str(db_path))
    assert con.execute("SELECT max(version) FROM schema_version").fetchone() == (1,)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert "quarantine" not in tables and "collection_checkpoints" not in tables


def test_not_a_database_and_missing_files_are_storage_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a duckdb file at all" * 100)
    with pytest.raises(StorageError):
        Warehouse.open(junk)
    with pytest.raises(StorageError, match="no warehouse"):
        Warehouse.open(tmp_path / "missing.duckdb", read_only=True)
    with pytest.raises(StorageError, match="does not exist"):
        Warehouse.open(tmp_path / "no" / "such" / "dir.duckdb")


def test_a_database_held_by_another_process_is_a_storage_error(db_path: Path) -> None:
    with Warehouse.open(db_path):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time, duckdb
                con = duckdb.connect({str(db_path)!r})
                print("held", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StorageError, match="another process"):
            Warehouse.open(db_path, wait_seconds=0.5)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def test_query_helpers_return_pandas_and_arrow(wh: Warehouse) -> None:
    frame = wh.query(
        "SELECT 1::BIGINT AS n, NULL::BIGINT AS hidden, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS t"
    )
    assert str(frame["n"].dtype) == "int64" or str(frame["n"].dtype) == "Int64"
    assert frame["hidden"].isna().all()
    assert frame["t"].dtype == pd.DatetimeTZDtype("ns", "UTC")
    table = wh.query_arrow("SELECT 42 AS answer")
    assert table.column("answer").to_pylist() == [42]
    with pytest.raises(StorageError, match="query failed"):
        wh.query("SELECT * FROM no_such_table")


V6_RUNS = """
INSERT INTO collection_runs (run_id, source, started_at, finished_at, status, channel_refs,
    key_fingerprints, error)
VALUES
    (nextval('run_id_seq'), 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00',
     TIMESTAMPTZ '2026-01-01 01:00:00+00', 'failed', ['@gaps'], [],
     'incomplete: incomplete: 50 video(s) of 1 channel(s) not fetched after retries'),
    (nextval('run_id_seq'), 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00',
     TIMESTAMPTZ '2026-01-01 01:00:00+00', 'failed', ['@broken'], [], 'internal error: OverflowError'),
    (nextval('run_id_seq'), 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00',
     TIMESTAMPTZ '2026-01-01 01:00:00+00', 'completed', ['@fine'], [], NULL);
"""


def test_v6_runs_stored_as_failed_incomplete_become_incomplete(db_path: Path) -> None:
    make_db_at(db_path, 6)
    con = duckdb.connect(str(db_path))
    con.execute(V6_RUNS)
    con.close()
    with Warehouse.open(db_path, clock=FixedClock(datetime(2026, 1, 2, tzinfo=UTC))) as wh:
        runs = {r.run_id: r for r in wh.run_summaries()}
        assert runs[2].status.value == "incomplete"
        assert runs[2].error == "incomplete: 50 video(s) of 1 channel(s) not fetched after retries"
        assert runs[3].status.value == "failed" and runs[3].error == "internal error: OverflowError"
        assert runs[4].status.value == "completed" and runs[4].error is None
        found = wh.find_resumable_run("youtube", ["@gaps"])
        assert found is not None and found.run_id == 2
        assert wh.start_run("youtube", ["@new"], []) == 5  # runs 1 (v1 data) and 2-4 above
    # The rebuilt table keeps its primary key and its CHECK.
    con = duckdb.connect(str(db_path))
    try:
        with pytest.raises(duckdb.ConstraintException):
            con.execute("UPDATE collection_runs SET status = 'no_such_state' WHERE run_id = 2")
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO collection_runs SELECT * FROM collection_runs WHERE run_id = 2")
    finally:
        con.close()
