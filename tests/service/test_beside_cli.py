"""`tubescope serve` and CLI commands share one DuckDB file (the embedded default), no lock errors.

The server keeps answering while collect, analyze, report, train and export run on its file as
separate processes, and it shows the new run once the collection lands.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tubescope.servers import free_port
from tubescope.testing import EmulatorHandle, running_emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(seed=5, n_channels=4) as handle:
        yield handle


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_cli_commands_run_beside_a_serving_process(emulator: EmulatorHandle, tmp_path: Path) -> None:
    db = tmp_path / "team.duckdb"
    env = {
        **os.environ,
        "TUBESCOPE_DB_PATH": str(db),
        "TUBESCOPE_YOUTUBE_API_BASE": emulator.base_url,
        "TUBESCOPE_MODEL_DIR": str(tmp_path / "models"),
    }
    first, second = emulator.world.channel_ids()[:2]
    seeded = _cli(env, "collect", first, "--api-key", emulator.keys[0])
    assert seeded.returncode == 0, seeded.stderr
    created = _cli(env, "token", "create", "--scope", "read")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]

    port = free_port()
    # serve logs a line per request: a file, not a pipe nobody reads (a full pipe blocks the server)
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "tubescope.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def poll() -> None:  # a dashboard user keeps reading while the CLI works
        nonlocal answered
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            while not stop.is_set():
                response = client.get("/v1/channels")
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                answered += 1
                time.sleep(0.05)

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()

        collected = _cli(env, "collect", first, second, "--api-key", emulator.keys[0], "--json")
        assert collected.returncode == 0, collected.stderr
        analyzed = _cli(env, "analyze", first, "--json")
        assert analyzed.returncode == 0, analyzed.stderr
        reported = _cli(env, "report", first, "--out", str(tmp_path / "r.html"), "--no-summary")
        assert reported.returncode == 0, reported.stderr
        assert (tmp_path / "r.html").stat().st_size > 10_000
        trained = _cli(env, "train", "--trees", "20", "--json")
        assert trained.returncode == 0, trained.stderr
        exported = _cli(env, "export", "--out", str(tmp_path / "lake"))
        assert exported.returncode == 0, exported.stderr
        for done in (collected, analyzed, reported, trained, exported):
            assert "in use" not in done.stderr and "lock" not in done.stderr.lower()

        # Within a second of the collection landing the server lists the second channel too.
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            deadline = time.monotonic() + 1.0
            listed: set[str] = set()
            while time.monotonic() < deadline and second not in listed:
                listed = {row["channel_id"] for row in client.get("/v1/channels").json()["items"]}
            assert {first, second} <= listed
            ready = client.get("/ready").json()
        assert ready["tables"]["collection_runs"] == 2
        stop.set()
        poller.join(timeout=60)
        assert failures == []
        assert answered > 10
        assert server.poll() is None, "the server died while the CLI worked"
    finally:
        stop.set()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
