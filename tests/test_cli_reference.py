"""The CLI reference page is generated from the Typer app on every docs build, so it matches it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from tubescope.cli import app

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "cli_reference.py"


def _documented(page: str, command: Any, prefix: str = "") -> list[str]:
    """What of ``command`` (and its subcommands) the page leaves out."""
    name = f"{prefix} {command.name}".strip()
    missing = [name] if prefix and f"## `{name}`" not in page else []
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--") and not re.search(rf"`[^`\n]*{re.escape(opt)}\b", page):
                missing.append(f"{name} {opt}")
    for sub in getattr(command, "commands", {}).values():
        missing += _documented(page, sub, name)
    return missing


def test_the_generated_page_holds_every_command_and_option() -> None:
    page = subprocess.run(
        [sys.executable, str(TOOL)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup) and len(group.commands) >= 10
    assert _documented(page, group) == []
    assert page.startswith("# CLI reference\n")
    # A command's help text is the page's text: change one and the page changes with it.
    assert "Print the tubescope version." in page


def test_a_page_that_lost_a_command_is_caught() -> None:
    page = subprocess.run(
        [sys.executable, str(TOOL)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    trimmed = page.replace("## `tubescope runs`", "## runs")
    assert _documented(trimmed, typer.main.get_command(app)) == ["tubescope runs"]


def test_the_docs_build_writes_the_page_from_the_app(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = (site / "cli" / "index.html").read_text(encoding="utf-8")
    assert "tubescope collect" in html and "--dry-run" in html
    assert not (ROOT / "docs" / "cli.md").exists(), "the page is generated; none is committed"
