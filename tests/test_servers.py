"""The private servers really start, answer and stop."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tubescope.servers import PostgresServer, RedisServer, free_port, postgres_server, redis_server


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_redis_answers_and_is_emptied_per_test(redis: RedisServer, redis_url: str) -> None:
    import redis as redis_client

    client = redis_client.Redis.from_url(redis_url)
    assert client.ping()
    assert client.dbsize() == 0
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()


def test_postgres_databases_are_separate(postgres: PostgresServer) -> None:
    first, second = postgres.create_database(), postgres.create_database()
    assert first != second
    out = subprocess.run(
        ["psql", first, "-tAc", "SELECT current_database()"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == first.rsplit("/", 1)[1]


def test_servers_stop_on_exit() -> None:
    import socket

    try:
        with redis_server() as server:
            port = server.port
    except Exception as exc:  # pragma: no cover - only where redis-server is missing
        pytest.skip(str(exc))
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        pass
    try:
        with postgres_server() as pg:
            port = pg.port
    except Exception as exc:  # pragma: no cover
        pytest.skip(str(exc))
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        pass


def test_s3_servers_bind_their_own_ports_and_stop() -> None:
    import socket

    from tubescope.servers import ServerUnavailable, s3_server

    try:
        with s3_server() as first, s3_server() as second:
            # each server chose and bound its port itself: no window for another process to take it
            assert first.port != second.port
            assert first.process.poll() is None and second.process.poll() is None
            first.create_bucket("tubescope-first")
            second.create_bucket("tubescope-second")
            port = first.port
    except ServerUnavailable as exc:  # pragma: no cover - only where moto is missing
        pytest.skip(str(exc))
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        pass


def test_missing_binaries_are_a_clear_unavailability(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tubescope import servers

    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed on this PATH
    monkeypatch.setattr(servers, "_PG_BIN_DIRS", ())
    redis_missing = r"redis-server is not installed \(run `make servers`"
    with pytest.raises(servers.ServerUnavailable, match=redis_missing), redis_server():
        pass
    initdb_missing = "PostgreSQL's initdb is not installed"
    with pytest.raises(servers.ServerUnavailable, match=initdb_missing), postgres_server():
        pass


def test_a_server_that_never_listens_is_reported_with_its_port() -> None:
    from tubescope.servers import _wait_for_port

    port = free_port()  # closed again: nothing listens there
    with pytest.raises(RuntimeError, match=f"fake-server did not listen on 127.0.0.1:{port} within 0 s"):
        _wait_for_port(port, 0.3, "fake-server")


def test_postgres_url_is_its_default_database(postgres: PostgresServer) -> None:
    assert postgres.url == postgres.database_url("postgres")
    assert postgres.url.endswith("/postgres")
