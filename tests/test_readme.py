"""The README's tour works as written: each command is run (on a free port, in an empty folder)
and its exit code and output checked, as a newcomer would copy them."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TUBESCOPE = Path(sys.executable).parent / "tubescope"


def tour() -> list[str]:
    """The commands of the README's tour block, one per line."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## A tour") :]
    block = re.search(r"```\n(.*?)```", section, re.S)
    assert block is not None, "the README's tour has no code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _argv(line: str) -> list[str]:
    words = shlex.split(line, comments=True)
    assert words[0] == "tubescope", line
    return [str(TUBESCOPE), *words[1:]]


def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    if not TUBESCOPE.is_file():
        pytest.skip(f"the tubescope script is not installed beside {sys.executable}")
    lines = tour()
    port = str(_free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")}
    env["COLUMNS"] = "80"
    emulator: subprocess.Popen[str] | None = None
    handles: list[str] = []
    try:
        for raw in lines:
            line = raw.replace("8765", port)
            command = shlex.split(line, comments=True)
            if command[0] == "export":
                name, _, value = command[1].partition("=")
                env[name] = value
                continue
            if command[-1] == "&":
                emulator = subprocess.Popen(
                    _argv(line.rsplit("&", 1)[0]), cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
                )
                assert emulator.stdout is not None
                banner = [emulator.stdout.readline() for _ in range(3)]
                assert banner[0].strip() == f"http://127.0.0.1:{port}/youtube/v3", banner
                assert "demo-key-1" in banner[1]
                for _ in range(3):
                    handles.append(emulator.stdout.readline().split()[0])
                assert all(h.startswith("@") for h in handles), handles
                _wait_for(int(port))
                continue
            done = subprocess.run(
                _argv(line), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, f"{raw}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
            _check(command, done.stdout, done.stderr, tmp_path, handles)
    finally:
        if emulator is not None:
            emulator.terminate()
            emulator.wait(timeout=30)
    assert (tmp_path / "report.html").is_file()


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"the emulator did not listen on {port}")


def _check(command: list[str], out: str, err: str, folder: Path, handles: list[str]) -> None:
    """What each step must have said or left behind."""
    verb = command[1]
    named = [h for w in command for h in w.split(",") if h.startswith("@")]
    assert set(named) <= set(handles), f"the tour names handles the emulator banner does not: {named}"
    if verb == "collect" and "--dry-run" in command:
        assert "quota unit(s) planned" in out and "{" not in out, out
        assert not (folder / "tubescope.duckdb").exists(), "a dry run created the warehouse"
    elif verb == "collect":
        assert "completed" in out, out
        assert (folder / "tubescope.duckdb").is_file()
    elif verb == "runs":
        assert "completed" in out
    elif verb == "analyze":
        assert "Key figures" in out or "figures" in out.lower(), out
    elif verb == "compare":
        assert "p" in out and "Peer comparison" in out, out
    elif verb == "report":
        page = (folder / "report.html").read_text(encoding="utf-8")
        assert page.count('class="num peer-name"') == len(named), "every peer is in the report"
        assert "wrote report.html" in err
