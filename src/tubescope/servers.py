"""Private PostgreSQL, Redis and S3-compatible (moto) servers on free loopback ports, for tests,
benchmarks and the demo.

Each helper starts a real server from Debian's packages in a temporary folder and stops it on exit::

    with postgres_server() as pg:          # initdb + pg_ctl, trust auth on 127.0.0.1 only
        url = pg.create_database()         # a fresh, empty database: postgresql://…/tubescope_xxxx
    with redis_server() as redis:          # redis-server --port N --save ""
        redis.url                          # redis://127.0.0.1:N/0
    with s3_server() as s3:                # moto's standalone server (the dev extra)
        s3.archive_uri("bucket", "prefix")  # s3://bucket/prefix?endpoint_override=…&scheme=http

When a binary is missing, :class:`ServerUnavailable` says which and how to install it
(``make servers``); test fixtures turn that into a skip with that reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PostgresServer",
    "RedisServer",
    "S3Server",
    "ServerUnavailable",
    "free_port",
    "postgres_server",
    "redis_server",
    "s3_server",
]

_PG_BIN_DIRS = tuple(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))


class ServerUnavailable(RuntimeError):
    """The server's binary is not installed here (the message says how to get it)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def _pg_binary(name: str) -> str:
    for folder in _PG_BIN_DIRS:
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise ServerUnavailable(f"PostgreSQL's {name} is not installed (run `make servers` as root)")
    return found


@dataclass(frozen=True)
class PostgresServer:
    """A running private PostgreSQL: ``url`` is its ``postgres`` database (superuser, no password)."""

    host: str
    port: int
    user: str
    data_dir: Path

    @property
    def url(self) -> str:
        """A URL of the server's default database."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """The ``postgresql://`` URL of database ``name`` on this server."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{name}"

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a database (a random name unless given) and return its URL.

        Empty, or with ``template`` (the name of a database nobody is connected to), a copy of it:
        how tests give each trial the same filled warehouse without filling it again.
        """
        db_name = name or f"tubescope_{secrets.token_hex(4)}"
        copy_of = f' TEMPLATE "{template}"' if template else ""
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                _pg_binary("psql"),
                "-q",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-c",
                f'CREATE DATABASE "{db_name}"{copy_of}',
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self.database_url(db_name)


def _as_postgres_user() -> tuple[list[str], str]:
    """initdb refuses to run as root: as root, run the server as the ``postgres`` system user."""
    if os.geteuid() != 0:
        import getpass

        return [], getpass.getuser()
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServerUnavailable("running as root without `runuser`; cannot start PostgreSQL as a plain user")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        raise ServerUnavailable("no `postgres` system user (run `make servers`)") from None
    return [runuser, "-u", "postgres", "--"], "postgres"


@contextmanager
def postgres_server(*, timeout: float = 60.0) -> Iterator[PostgresServer]:
    """Start PostgreSQL (initdb + pg_ctl) on a free loopback port in a temporary folder; stop it on exit."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    prefix, user = _as_postgres_user()
    folder = Path(tempfile.mkdtemp(prefix="tubescope-pg-"))
    data_dir = folder / "data"
    if prefix:
        shutil.chown(folder, user="postgres", group="postgres")
    port = free_port()
    log = folder / "server.log"
    try:
        subprocess.run(  # noqa: S603
            [
                *prefix,
                initdb,
                "-D",
                str(data_dir),
                "-U",
                user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            timeout=timeout,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(  # noqa: S603
            [
                *prefix,
                pg_ctl,
                "-D",
                str(data_dir),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                str(int(timeout)),
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=timeout + 10,
        )
        _wait_for_port(port, timeout, "PostgreSQL")
        yield PostgresServer(host="127.0.0.1", port=port, user=user, data_dir=data_dir)
    finally:
        if (data_dir / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603
                [*prefix, pg_ctl, "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
                check=False,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class RedisServer:
    """A running private redis-server (no persistence)."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """The server's URL (database 0)."""
        return f"redis://{self.host}:{self.port}/0"


@contextmanager
def redis_server(*, timeout: float = 20.0) -> Iterator[RedisServer]:
    """Start ``redis-server --port N --save ""`` on loopback in a temporary folder; stop it on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable("redis-server is not installed (run `make servers` as root)")
    folder = Path(tempfile.mkdtemp(prefix="tubescope-redis-"))
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, timeout, "redis-server")
        yield RedisServer(host="127.0.0.1", port=port, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


S3_TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "tubescope-test",
    "AWS_SECRET_ACCESS_KEY": "tubescope-test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""The environment a client of the test server needs (moto checks no signature)."""


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server on loopback (state lives in memory and ends with it)."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        """The server's endpoint URL."""
        return f"http://{self.host}:{self.port}"

    def archive_uri(self, bucket: str, prefix: str = "") -> str:
        """An ``s3://`` URI that pyarrow resolves against this server."""
        path = f"{bucket}/{prefix}".rstrip("/")
        return f"s3://{path}?endpoint_override={self.host}:{self.port}&scheme=http&region=us-east-1"

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket`` (idempotent)."""
        from pyarrow import fs

        s3 = fs.S3FileSystem(
            access_key=S3_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            secret_key=S3_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            endpoint_override=f"{self.host}:{self.port}",
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        s3.create_dir(bucket)


_LISTENING = re.compile(rb"Running on http://127\.0\.0\.1:(\d+)")


@contextmanager
def s3_server(*, timeout: float = 30.0) -> Iterator[S3Server]:
    """Start moto's standalone S3-compatible server on a free loopback port; stop it on exit.

    The server binds port 0 itself and its log names the port it got, so no other process can
    take the port between choosing and binding it (a port chosen here could be).
    """
    import importlib.util
    import sys

    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise ServerUnavailable("moto[server] is not installed (pip install -e '.[dev]')")
    with tempfile.TemporaryDirectory(prefix="tubescope-moto-") as folder:
        log_path = Path(folder) / "moto.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **S3_TEST_CREDENTIALS},
            )
        try:
            port = _moto_port(process, log_path, timeout)
            _wait_for_port(port, timeout, "moto server")
            yield S3Server(host="127.0.0.1", port=port, process=process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _moto_port(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> int:
    """The port moto's server says it listens on (its log line), once it says so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _LISTENING.search(log_path.read_bytes())
        if found:
            return int(found[1])
        if process.poll() is not None:
            tail = log_path.read_bytes()[-500:].decode(errors="replace")
            raise RuntimeError(f"moto server exited with {process.returncode}: {tail}")
        time.sleep(0.05)
    raise RuntimeError(f"moto server did not report its port within {timeout:.0f} s")
