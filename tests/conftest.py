"""Fixtures every test folder may use: private PostgreSQL and Redis servers on loopback.

The servers start once per session, on free ports in temporary folders, and stop at the end.
Where a binary is missing the tests that need it skip with the reason (`make servers` installs
them; CI runs as root and does).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tubescope.servers import (
    PostgresServer,
    RedisServer,
    ServerUnavailable,
    postgres_server,
    redis_server,
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
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL."""
    return postgres.create_database()


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
