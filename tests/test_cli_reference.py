"""The CLI reference page is generated from the Typer app and kept in step with it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import typer

from tubescope.cli import app

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "cli_reference.py"
PAGE = ROOT / "docs" / "cli.md"


def _check(page: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), "--check", str(page)], capture_output=True, text=True, check=False
    )


def test_the_committed_reference_matches_the_app() -> None:
    done = _check(PAGE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_command_and_option_of_the_app_is_in_the_reference() -> None:
    page = PAGE.read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)

    def walk(command: object, prefix: str) -> None:
        name = f"{prefix} {command.name}".strip()  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", {})
        if prefix:
            assert f"## `{name}`" in page, f"`{name}` is missing from docs/cli.md"
        for param in command.params:  # type: ignore[attr-defined]
            for opt in param.opts:
                if opt.startswith("--"):
                    found = re.search(rf"`[^`\n]*{re.escape(opt)}\b", page)
                    assert found, f"{name} {opt} is missing from docs/cli.md"
        for sub in subcommands.values():
            walk(sub, name)

    walk(group, "")
    assert group.commands, "the app has no commands"


def test_a_stale_reference_is_caught(tmp_path: Path) -> None:
    """Edit the committed page the way drift would (a command's help changed): --check fails."""
    original = PAGE.read_text(encoding="utf-8")
    stale = original.replace("Print the tubescope version.", "Print the version number.", 1)
    assert stale != original
    copy = tmp_path / "cli.md"
    copy.write_text(stale, encoding="utf-8")
    done = _check(copy)
    assert done.returncode == 1
    assert "run `python tools/cli_reference.py`" in done.stdout
