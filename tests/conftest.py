"""Fixtures every test folder may use: private PostgreSQL and Redis servers on loopback.

The servers start once per session, on free ports in temporary folders, and stop at the end.
Where a binary is missing the tests that need it skip with the reason (`make servers` installs
them; CI runs as root and does).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tubescope.servers import (
    S3_TEST_CREDENTIALS,
    PostgresServer,
    RedisServer,
    S3Server,
    ServerUnavailable,
    postgres_server,
    redis_server,
    s3_server,
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One private PostgreSQL for the session."""
    try:
        with postgres_server() as server:
            yield server
    except ServerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL (this process's warehouse connection
    pool for it is closed afterwards, so a long session does not pile up idle connections)."""
    url = postgres.create_database()
    yield url
    from tubescope.warehouse.postgres_backend import close_pools
    from tubescope.warehouse.target import PostgresTarget

    close_pools(PostgresTarget(url))


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    """One private redis-server for the session."""
    try:
        with redis_server() as server:
            yield server
    except ServerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def redis_url(redis: RedisServer) -> str:
    """The session's redis-server, emptied for this test."""
    import redis as redis_client

    client = redis_client.Redis.from_url(redis.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis.url


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """One private S3-compatible server (moto's standalone server) for the session."""
    try:
        with s3_server() as server:
            yield server
    except ServerUnavailable as exc:
        pytest.skip(str(exc))


_buckets = itertools.count()


@pytest.fixture
def s3_uri(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://<fresh bucket>/archive?endpoint_override=…`` on the session's server, with the
    test credentials in the environment (as a user's AWS_* variables would be)."""
    for name, value in S3_TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"tubescope-{next(_buckets)}"
    s3.create_bucket(bucket)
    return s3.archive_uri(bucket, "archive")
