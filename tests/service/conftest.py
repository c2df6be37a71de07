from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tubescope.config import Settings, load_settings
from tubescope.jobs.collect import collect
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.service.app import create_app
from tubescope.service.state import ServiceOptions
from tubescope.testing import EmulatorHandle, running_emulator


@dataclass
class Service:
    url: str
    app: FastAPI
    db_path: Path
    tokens: dict[str, str]
    emulator: EmulatorHandle
    channel_ids: list[str]

    def client(self, scope: str | None = "read") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


def serve(app: FastAPI) -> tuple[str, uvicorn.Server, threading.Thread]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


def wait_until_warm(url: str, timeout: float = 180) -> dict[str, object]:
    """Wait for the service's cache warmer to finish (``/ready``); its progress."""
    deadline = time.monotonic() + timeout
    while True:
        warming = httpx.get(f"{url}/ready", timeout=60).json()["cache_warming"]
        if warming["warm"]:
            return dict(warming)
        assert time.monotonic() < deadline, f"the cache did not warm: {warming}"
        time.sleep(0.1)


@pytest.fixture(scope="package")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(seed=11, n_channels=5) as handle:
        yield handle


@pytest.fixture(scope="package")
def service(emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    db_path = tmp_path_factory.mktemp("service") / "warehouse.duckdb"
    channel_ids = emulator.world.channel_ids()[:3]
    collect(channel_ids, db_path=db_path, api_keys=emulator.keys[:1], api_base=emulator.base_url)
    settings: Settings = load_settings(
        db_path=db_path,
        youtube_api_base=emulator.base_url,
        api_keys=emulator.keys[:1],
        model_dir=db_path.parent,
    )
    store = token_store_for(db_path)
    tokens = {scope.value: store.create(scope, f"test-{scope.value}")[0] for scope in Scope}
    app = create_app(
        settings,
        ServiceOptions(
            db_path=db_path,
            token_file=store.path,
            rate_per_second=1000,
            rate_burst=1000,
            auth_failure_burst=100_000,  # the suite shares one address (test_security.py checks it)
        ),
    )
    url, server, thread = serve(app)
    try:
        yield Service(url, app, db_path, tokens, emulator, channel_ids)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
