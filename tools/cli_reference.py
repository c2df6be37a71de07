"""The CLI reference page (docs/cli.md), generated from the Typer app so it cannot drift from it.

It is an MkDocs hook (`hooks:` in mkdocs.yml): every `mkdocs build`, `make docs` included, adds
the page from the app as it is at that moment; nothing generated is committed. The body is
Typer's own Markdown generator (`typer tubescope.cli utils docs`), which walks the click command
tree: every command, argument and option with its help text. The short preface holds what
`--help` cannot say (exit codes, the `--peers` forms).

Usage outside MkDocs: python tools/cli_reference.py [OUT.md]   (print or write the page)
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from typer.cli import get_docs_for_click

from tubescope.cli import app

PAGE = "cli.md"
_PREFACE = """\
Every command takes `--help`. Anticipated failures print one line naming what to do and exit
non-zero (the codes are in `tubescope.errors`); `--debug` shows the traceback instead.
`--peers` takes a comma-separated list, or repeat it: `--peers @a,@b` or `--peers @a --peers @b`.
"""


def render() -> str:
    """The whole reference page: a title, the preface, then every command as Typer documents it."""
    command = typer.main.get_command(app)
    with typer.Context(command, info_name="tubescope") as ctx:
        body = get_docs_for_click(obj=command, ctx=ctx, name="tubescope", title="CLI reference")
    title, _, rest = body.partition("\n\n")
    lines = [line.rstrip() for line in f"{title}\n\n{_PREFACE}\n{rest}".splitlines()]
    return "\n".join(lines).rstrip("\n") + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """MkDocs hook: add the generated ``cli.md`` (replacing any stale copy in docs/)."""
    stale = files.get_file_from_path(PAGE)
    if stale is not None:
        files.remove(stale)
    files.append(File.generated(config, PAGE, content=render()))
    return files


def main(argv: list[str]) -> int:
    """Print the page, or write it to the path given."""
    page = render()
    if argv:
        Path(argv[0]).write_text(page, encoding="utf-8")
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
