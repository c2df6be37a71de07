"""The ``tubescope`` command line: one thin command per job in :mod:`tubescope.jobs`.

Any :class:`~tubescope.errors.TubescopeError` becomes one readable line on stderr and the error's
exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from tubescope import __version__
from tubescope.errors import TubescopeError
from tubescope.logging import configure_logging, redact_text

app = typer.Typer(
    name="tubescope",
    help="YouTube channel analytics: collect, store, analyse, predict and report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stderr = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    log_json: Annotated[bool | None, typer.Option("--log-json/--log-console", help="Log format.")] = None,
) -> None:
    _state["debug"] = debug
    configure_logging("DEBUG" if debug else "WARNING", json=log_json)


@app.command()
def version() -> None:
    """Print the tubescope version."""
    typer.echo(__version__)


def main() -> None:
    """Console-script entry point: maps anticipated errors to one line and an exit code."""
    try:
        app(standalone_mode=False)
    except TubescopeError as exc:
        if _state["debug"]:
            raise
        stderr.print(f"[bold red]error:[/] {redact_text(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("[yellow]interrupted[/]")
        sys.exit(130)
    except Exception as exc:
        # Typer vendors its own click: its usage errors, Exit and Abort are recognised by shape.
        code = getattr(exc, "exit_code", None)
        if isinstance(code, int) and not isinstance(exc, TubescopeError):
            show = getattr(exc, "show", None)
            if callable(show):
                show()
            sys.exit(code)
        if type(exc).__name__ == "Abort":
            sys.exit(1)
        if _state["debug"]:
            raise
        stderr.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {redact_text(str(exc))} (rerun with --debug)"
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
