"""The Rich console every command prints through: YouTube text cannot drive the terminal.

:class:`SafeConsole` strips control characters and bidi overrides from every piece of text it
renders (Rich's own styles and cursor controls still work) and drops hyperlinks, so a channel
owner's title can neither send escape sequences nor plant a hidden link through Rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.segment import Segment

from tubescope.domain.text import terminal_safe


class SafeConsole(Console):
    """A :class:`rich.console.Console` that renders text through :func:`terminal_safe`."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(_safe_segments(buffer))


def _safe_segments(buffer: Iterable[Segment]) -> Iterable[Segment]:
    for text, style, control in buffer:
        if control:  # Rich's own cursor and screen controls (progress bars), never data
            yield Segment(text, style, control)
            continue
        if style is not None and style.link:
            style = style.update_link(None)
        yield Segment(terminal_safe(text), style, control)


def safe_text(text: str) -> str:
    """Plain text (for ``typer.echo``) without control characters from YouTube."""
    return terminal_safe(text)
