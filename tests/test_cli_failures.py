"""Every anticipated failure of the CLI is one line and a documented exit code, with or without
--debug; signals stop a collection at a checkpoint; YouTube text cannot drive the terminal."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.text import Text

from tests.pipeline.helpers import rows
from tubescope.errors import InvalidChannelRef
from tubescope.jobs.console import SafeConsole
from tubescope.testing import EmulatorHandle, running_emulator


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tubescope.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("cli") / "w.duckdb"
    with running_emulator(seed=5, n_channels=1) as emu:
        done = run_cli(
            "collect",
            emu.world.channel_ids()[0],
            "--db",
            str(db),
            "--api-key",
            emu.keys[0],
            "--api-base",
            emu.base_url,
        )
    assert done.returncode == 0, done.stderr
    return db


@pytest.mark.parametrize("debug", [False, True])
def test_a_bracket_in_a_reference_is_exit_2_with_and_without_debug(debug: bool, warehouse: Path) -> None:
    result = run_cli(*(["--debug"] if debug else []), "analyze", "a.b[", "--db", str(warehouse))
    assert result.returncode == InvalidChannelRef.exit_code == 2
    if debug:
        assert "Traceback" in result.stderr  # --debug adds the traceback, the exit code stays
    else:
        assert "invalid channel reference 'a.b['" in _one_line(result)


def test_prune_with_an_absurd_age_is_a_config_error(warehouse: Path) -> None:
    result = run_cli("prune", "--older-than-days", "99999999999", "--db", str(warehouse))
    assert result.returncode == 2 and "--older-than-days" in _one_line(result)


def test_report_to_a_folder_is_a_config_error(warehouse: Path, tmp_path: Path) -> None:
    with running_emulator(seed=5, n_channels=1) as emu:
        channel = emu.world.channel_ids()[0]
    result = run_cli("report", channel, "--db", str(warehouse), "--out", str(tmp_path), "--no-summary")
    assert result.returncode == 2 and "is a folder" in _one_line(result)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"this is not a duckdb file at all" * 100, "cannot open"), (None, "directory")],
)
def test_serve_on_a_broken_warehouse_is_one_line_and_exit_10(
    tmp_path: Path, content: bytes | None, words: str
) -> None:
    target = tmp_path / "broken.duckdb"
    if content is None:
        target.mkdir()
    else:
        target.write_bytes(content)
    result = run_cli("serve", "--db", str(target), "--port", "0")
    assert result.returncode == 10
    assert words in _one_line(result)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_collect_at_a_checkpoint_says_what_was_saved_and_exits_128_plus_n(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    db = tmp_path / "w.duckdb"
    with running_emulator(seed=6, n_channels=3) as emu:
        emu.set_faults(latency_ms=250)  # slow enough to be interrupted mid-crawl
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tubescope.cli",
                "collect",
                *emu.world.channel_ids(),
                "--db",
                str(db),
                "--api-key",
                emu.keys[0],
                "--api-base",
                emu.base_url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TUBESCOPE_MAX_CONCURRENCY": "2"},
        )
        deadline = time.monotonic() + 120
        # Signal once the crawl is storing videos: some work is saved, more is still to come.
        while not _videos_fetched(emu) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(sig)
        out, err = process.communicate(timeout=120)
        assert process.returncode == code, err
        assert "Traceback" not in err
        assert "interrupted" in out and "videos new" in out  # what was saved
        assert f"stopped by {sig.name}" in err and "resume" in err
        emu.set_faults()
        resumed = run_cli(
            "collect",
            *emu.world.channel_ids(),
            "--db",
            str(db),
            "--api-key",
            emu.keys[0],
            "--api-base",
            emu.base_url,
        )
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stdout


def _videos_fetched(emu: EmulatorHandle) -> bool:
    usage = emu.ledger.usage(emu.keys[0])
    return "videos.list" in usage and usage["videos.list"].calls >= 1


def test_the_console_strips_escapes_bidi_overrides_and_links() -> None:
    sink = io.StringIO()
    console = SafeConsole(file=sink, force_terminal=True, color_system="truecolor", width=200)
    hostile = "Fun\x1b]0;owned\x07 video\x1b[2J \u202eevil\u202c [link=https://evil.example]click[/link]"
    console.print(hostile)
    console.print(Text("plain\x1b[31m red"), style="bold")
    rendered = sink.getvalue()
    assert "\x1b]" not in rendered and "\x1b[2J" not in rendered and "\x07" not in rendered
    assert "\u202e" not in rendered and "evil.example" not in rendered  # no bidi override, no hidden link
    assert "\x1b[1m" in rendered  # Rich's own styling still works...
    text = re.sub("\x1b\\[[0-9;]*m", "", rendered)  # ... and once its colour codes are removed,
    assert "\x1b" not in text  # no escape sequence of the title's is left
    assert "Fun]0;owned video" in text and "click" in text and "plain[31m red" in text


def test_an_incomplete_collect_exits_9_with_one_line_and_the_next_collect_resumes_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with running_emulator(seed=5, n_channels=1) as emu:
        args = ["collect", *emu.world.channel_ids(), "--db", str(db), "--api-key", emu.keys[0]]
        args += ["--api-base", emu.base_url]
        emu.set_faults(backend_error_rate=1.0)
        env = {**os.environ, "TUBESCOPE_MAX_RETRIES": "0"}
        failing = subprocess.run(
            [sys.executable, "-m", "tubescope.cli", *args],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            env=env,
        )
        assert failing.returncode == 9, failing.stderr
        assert "Traceback" not in failing.stderr
        # Besides the JSON log events (stderr is not a terminal here), one line says what is missing.
        (line,) = [x for x in failing.stderr.splitlines() if x.strip() and not x.startswith("{")]
        assert line.startswith("error: incomplete: 1 channel lookup(s)") and "collect again" in line
        assert [r[0] for r in rows(db, "SELECT status FROM collection_runs")] == ["incomplete"]
        emu.set_faults()
        again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert rows(db, "SELECT run_id, status, attempts FROM collection_runs") == [(1, "completed", 2)]


def test_an_alert_that_cannot_be_delivered_exits_13_and_stays_listed(warehouse: Path, tmp_path: Path) -> None:
    db = tmp_path / "alerts.duckdb"
    db.write_bytes(warehouse.read_bytes())
    channel_id = rows(db, "SELECT channel_id FROM channels")[0][0]
    assert run_cli("watch", "add", channel_id, "--db", str(db)).returncode == 0
    with socket.socket() as sock:  # a port nothing listens on: every webhook attempt is refused
        sock.bind(("127.0.0.1", 0))
        hook = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TUBESCOPE_")},
        "TUBESCOPE_ALERT_RULES": '[{"name": "gap", "kind": "upload_gap", "threshold": 0.001}]',
        "TUBESCOPE_ALERT_WEBHOOK_URL": hook,
        "TUBESCOPE_ALERT_WEBHOOK_SECRET": "hook-secret-never-shown-59",
        "TUBESCOPE_ALERT_RETRY_WAIT_SECONDS": "0.01",
    }
    cli = [sys.executable, "-m", "tubescope.cli", "alerts", "--db", str(db)]
    done = subprocess.run(
        [*cli, "--check"], capture_output=True, text=True, timeout=180, check=False, env=env
    )
    assert done.returncode == 13, done.stderr
    assert "Traceback" not in done.stderr and "hook-secret-never-shown-59" not in done.stderr + done.stdout
    assert "1 of 1 new alerts could not be delivered by webhook" in done.stderr
    assert "webhook failed" in done.stdout  # listed, with how its delivery went
    again = subprocess.run(cli, capture_output=True, text=True, timeout=180, check=False, env=env)
    assert again.returncode == 0 and done.stdout == again.stdout
