from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_unknown_command_is_a_usage_error_not_a_traceback() -> None:
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_version_prints_and_exits_zero() -> None:
    result = run_cli("version")
    assert result.returncode == 0 and result.stdout.strip()
