"""``tubescope emulator serve`` prints where it listens and the demo keys, then serves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_emulator_serve_prints_base_url_and_keys_and_answers() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "tubescope.cli", "emulator", "serve"]
    command += ["--port", str(port), "--channels", "3"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        keys_line = server.stdout.readline().strip()
        assert base == f"http://127.0.0.1:{port}/youtube/v3"
        key = keys_line.removeprefix("demo keys: ").split(", ")[0]
        deadline = time.monotonic() + 20
        while True:
            try:
                params = {"part": "id", "forHandle": "@x", "key": key}
                resp = httpx.get(f"{base}/channels", params=params, timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "emulator did not come up"
                time.sleep(0.2)
        assert resp.status_code == 200 and resp.json()["kind"] == "youtube#channelListResponse"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_emulator_serve_rejects_bad_flags_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tubescope.cli", "emulator", "serve", "--channels", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--channels" in result.stderr
