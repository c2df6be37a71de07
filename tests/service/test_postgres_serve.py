"""`tubescope serve` on PostgreSQL: the CLI works beside it on the same database, and the server
shows what the CLI landed (the team deployment, one replica)."""

from __future__ import annotations

import os
import subprocess
import sys
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


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_serve_and_the_cli_share_a_postgres_warehouse(
    emulator: EmulatorHandle, tmp_path: Path, postgres_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    env.update(
        TUBESCOPE_DB_URL=postgres_url,
        TUBESCOPE_YOUTUBE_API_BASE=emulator.base_url,
        TUBESCOPE_MODEL_DIR=str(tmp_path / "models"),
    )
    first, second = emulator.world.channel_ids()[:2]
    seeded = _cli(env, tmp_path, "collect", first, "--api-key", emulator.keys[0])
    assert seeded.returncode == 0, seeded.stderr
    created = _cli(env, tmp_path, "token", "create", "--scope", "read")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tubescope.cli", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
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
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            before = client.get("/v1/channels")
            assert before.status_code == 200, before.text
            assert {row["channel_id"] for row in before.json()["items"]} == {first}
            kpis = client.get(f"/v1/channels/{first}")
            assert kpis.status_code == 200, kpis.text

            collected = _cli(env, tmp_path, "collect", second, "--api-key", emulator.keys[0], "--json")
            assert collected.returncode == 0, collected.stderr
            for args in (
                ("analyze", first, "--json"),
                ("report", first, "--out", str(tmp_path / "r.html"), "--no-summary"),
                ("train", "--trees", "20", "--json"),
                ("export", "--out", str(tmp_path / "lake")),
                ("prune", "--older-than-days", "3650"),
            ):
                done = _cli(env, tmp_path, *args)
                assert done.returncode == 0, (args, done.stderr)
            assert (tmp_path / "r.html").stat().st_size > 10_000
            assert list((tmp_path / "lake" / "video_snapshots").rglob("*.parquet"))

            deadline = time.monotonic() + 5.0
            listed: set[str] = set()
            while time.monotonic() < deadline and second not in listed:
                listed = {row["channel_id"] for row in client.get("/v1/channels").json()["items"]}
                time.sleep(0.1)
            assert {first, second} <= listed
            ready = client.get("/ready").json()
        assert ready["tables"]["collection_runs"] == 2 and ready["tables"]["model_manifests"] == 1
        assert server.poll() is None, "the server died while the CLI worked"
        assert not (tmp_path / "tubescope.duckdb").exists()  # nothing fell back to the default file
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
