"""PostgreSQL migrations: same versions as DuckDB, every old version upgrades, replicas migrate once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from tubescope.errors import SchemaVersionError, StorageError
from tubescope.warehouse import LATEST_VERSION, Warehouse
from tubescope.warehouse import migrations as mig
from tubescope.warehouse.postgres_backend import close_pools, open_backend
from tubescope.warehouse.target import PostgresTarget

from .conftest import T0, FixedClock, vsnap

V1_DATA = """
INSERT INTO collection_runs (run_id, source, started_at, status, channel_refs, key_fingerprints)
VALUES (nextval('run_id_seq'), 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00', 'running',
        ARRAY['@old'], ARRAY['key-aaaaaaaaaa']);
INSERT INTO channels VALUES ('UCold', 'Old', '@old', '', TIMESTAMPTZ '2020-01-01 00:00:00+00', NULL,
    NULL, 'UUold', NULL, true, 900, 2, 1, 1, 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00');
INSERT INTO channel_snapshots VALUES ('UCold', 1, TIMESTAMPTZ '2026-01-01 00:00:00+00', NULL, 900, 2,
    'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00');
INSERT INTO videos VALUES ('vid_old_001', 'UCold', 't', '', TIMESTAMPTZ '2025-12-01 00:00:00+00', 30,
    'PT30S', 'short', ARRAY['a', 'b'], '22', NULL, 'none', 'public', 1, 1, 'youtube',
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


@pytest.fixture
def pg(postgres_url: str) -> Iterator[PostgresTarget]:
    target = PostgresTarget(postgres_url)
    yield target
    close_pools(target)


def make_db_at(target: PostgresTarget, version: int) -> None:
    """A database as an older tubescope left it: each step's data written under that step's schema."""
    with psycopg.connect(target.url, autocommit=True) as con:
        for step in range(1, version + 1):
            backend = open_backend(target)
            try:
                assert backend.migrate_to(step, now=T0) == step
            finally:
                backend.close()
            if step in DATA_WRITTEN_AT:
                con.execute(DATA_WRITTEN_AT[step].encode())


def version_rows(target: PostgresTarget) -> list[int]:
    with psycopg.connect(target.url) as con:
        return [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]


def test_postgres_and_duckdb_migrations_carry_the_same_numbers_and_names() -> None:
    assert [(m.version, m.description) for m in mig.POSTGRES_MIGRATIONS] == [
        (m.version, m.description) for m in mig.MIGRATIONS
    ]


def test_a_new_database_is_created_at_the_latest_version(pg: PostgresTarget) -> None:
    with Warehouse.open(pg) as wh:
        assert wh.backend == "postgresql" and wh.schema_version == LATEST_VERSION
    assert version_rows(pg) == list(range(1, LATEST_VERSION + 1))


@pytest.mark.parametrize("old_version", range(1, LATEST_VERSION))
def test_every_older_version_migrates_and_keeps_its_data(pg: PostgresTarget, old_version: int) -> None:
    make_db_at(pg, old_version)
    clock = FixedClock(datetime(2026, 1, 2, tzinfo=UTC))
    with Warehouse.open(pg, clock=clock) as wh:
        assert wh.schema_version == LATEST_VERSION
        frames = wh.load_frames()
        snaps = wh.query("SELECT * FROM video_snapshots ORDER BY observed_at")
        assert snaps["like_count"].isna().all()
        assert snaps["likes_hidden"].tolist() == [True, True]
        assert snaps["comments_hidden"].tolist() == [False, False]
        assert wh.query("SELECT * FROM channel_snapshots")["subscribers_hidden"].tolist() == [True]
        videos = frames["videos"]
        assert videos["view_count"].tolist() == [500]
        assert videos["comment_count"].tolist() == [4]
        assert videos["tags"].tolist() == ["a|b"] and videos["tag_count"].tolist() == [2]
        assert videos["is_deleted"].tolist() == [old_version >= 2]
        assert len(wh.quarantined()) == (1 if old_version >= 2 else 0)
        run = wh.resume_run(1)
        assert run.attempts == 2
        later = vsnap("vid_old_001", 650, at=datetime(2026, 1, 2, tzinfo=UTC))
        assert wh.record_video_snapshots(1, [later]).skipped == 1
        new_run = wh.start_run("youtube", ["@new"], [])
        assert new_run == 2
        assert wh.record_video_snapshots(new_run, [later]).inserted == 1
        assert wh.load_frames()["videos"]["view_count"].tolist() == [650]


@pytest.mark.parametrize("old_version", [0, 1])
def test_replicas_opening_together_migrate_exactly_once(pg: PostgresTarget, old_version: int) -> None:
    # 0: a new, empty database, which every replica first sees without a schema_version table
    if old_version:
        make_db_at(pg, old_version)
    start = threading.Barrier(6)
    versions: list[int] = []
    failures: list[BaseException] = []

    def replica() -> None:
        start.wait()
        try:
            with Warehouse.open(pg) as wh:
                versions.append(wh.schema_version)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert versions == [LATEST_VERSION] * 6
    # Each version recorded once: a second migrator would have failed on CREATE TABLE or
    # inserted a duplicate version row.
    assert version_rows(pg) == list(range(1, LATEST_VERSION + 1))


def test_a_newer_database_is_refused_with_a_clear_message(pg: PostgresTarget) -> None:
    with Warehouse.open(pg):
        pass
    with psycopg.connect(pg.url, autocommit=True) as con:
        con.execute("INSERT INTO schema_version VALUES (%s, 'from the future', now())", [LATEST_VERSION + 2])
    close_pools(pg)
    with pytest.raises(SchemaVersionError) as info:
        Warehouse.open(pg)
    assert str(info.value) == (
        f"database schema v{LATEST_VERSION + 2} is newer than this tubescope (v{LATEST_VERSION});"
        " upgrade tubescope"
    )


def test_an_old_database_is_refused_by_an_open_told_not_to_migrate(pg: PostgresTarget) -> None:
    make_db_at(pg, 1)
    with pytest.raises(StorageError, match="needs migrating to v"):
        Warehouse.open(pg, read_only=True, migrate=False)
    assert version_rows(pg) == [1]
    with Warehouse.open(pg, read_only=True) as wh:
        assert wh.read_only and wh.schema_version == LATEST_VERSION
        with pytest.raises(StorageError, match="read-only"):
            wh.transaction()


def test_a_failing_migration_leaves_the_old_schema_untouched(pg: PostgresTarget) -> None:
    make_db_at(pg, 1)
    with psycopg.connect(pg.url, autocommit=True) as con:
        con.execute("ALTER TABLE videos ADD COLUMN is_deleted BOOLEAN")
    with pytest.raises(StorageError, match="schema migration"):
        Warehouse.open(pg)
    assert version_rows(pg) == [1]
    with psycopg.connect(pg.url) as con:
        assert con.execute("SELECT to_regclass('quarantine')").fetchone() == (None,)


def test_the_password_never_appears_in_errors(postgres_url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(postgres_url)
    secret = "s3cr3t-Pa55word"
    netloc = f"nobody:{secret}@{parts.hostname}:{parts.port}"
    wrong = PostgresTarget(urlunsplit((parts.scheme, netloc, "/no_such_database", "", "")))
    with pytest.raises(StorageError) as info:
        Warehouse.open(wrong)
    assert secret not in str(info.value) and "***" in str(info.value)
    assert secret not in repr(wrong) and secret not in str(wrong)


V6_RUNS = """
INSERT INTO collection_runs (run_id, source, started_at, finished_at, status, channel_refs,
    key_fingerprints, error)
VALUES
    (nextval('run_id_seq'), 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00',
     TIMESTAMPTZ '2026-01-01 01:00:00+00', 'failed', ARRAY['@gaps'], ARRAY[]::TEXT[],
     'incomplete: incomplete: 50 video(s) of 1 channel(s) not fetched after retries'),
    (nextval('run_id_seq'), 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00',
     TIMESTAMPTZ '2026-01-01 01:00:00+00', 'failed', ARRAY['@broken'], ARRAY[]::TEXT[],
     'internal error: OverflowError'),
    (nextval('run_id_seq'), 'youtube', TIMESTAMPTZ '2026-01-01 00:00:00+00',
     TIMESTAMPTZ '2026-01-01 01:00:00+00', 'completed', ARRAY['@fine'], ARRAY[]::TEXT[], NULL);
"""


def test_v6_runs_stored_as_failed_incomplete_become_incomplete(pg: PostgresTarget) -> None:
    make_db_at(pg, 6)
    with psycopg.connect(pg.url, autocommit=True) as con:
        con.execute(V6_RUNS.encode())
    with Warehouse.open(pg, clock=FixedClock(datetime(2026, 1, 2, tzinfo=UTC))) as wh:
        runs = {r.run_id: r for r in wh.run_summaries()}
        assert runs[2].status.value == "incomplete"
        assert runs[2].error == "incomplete: 50 video(s) of 1 channel(s) not fetched after retries"
        assert runs[3].status.value == "failed" and runs[3].error == "internal error: OverflowError"
        assert runs[4].status.value == "completed" and runs[4].error is None
        found = wh.find_resumable_run("youtube", ["@gaps"])
        assert found is not None and found.run_id == 2
    with psycopg.connect(pg.url, autocommit=True) as con, pytest.raises(psycopg.errors.CheckViolation):
        con.execute("UPDATE collection_runs SET status = 'no_such_state' WHERE run_id = 2")
