"""compose.yaml describes the team shape, and every command it runs is a real tubescope command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_runs_postgres_redis_two_replicas_behind_a_proxy_and_two_workers() -> None:
    services = _compose()["services"]
    assert {"api", "worker", "proxy", "postgres", "redis"} <= set(services)
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    for name in ("api", "worker"):
        env = services[name]["environment"]
        assert env["TUBESCOPE_DB_URL"].startswith("postgresql://")
        assert env["TUBESCOPE_REDIS_URL"].startswith("redis://")
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}
    assert services["proxy"]["ports"] == ["8000:8000"]
    assert "ports" not in services["api"]  # replicas are reached through the proxy only
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server api:8000" in nginx


def test_every_command_compose_runs_exists() -> None:
    services = _compose()["services"]
    for name in ("api", "worker"):
        command = services[name]["command"]
        assert command[0] == "tubescope"
        shown = subprocess.run(
            [sys.executable, "-m", "tubescope.cli", command[1], "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert shown.returncode == 0, f"`tubescope {command[1]}` is not a command: {shown.stderr}"
