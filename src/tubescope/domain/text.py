"""Text that came from YouTube, made safe to show on a terminal.

Titles, descriptions, tags and channel names are chosen by channel owners. Printed raw, an escape
sequence in one can retitle the terminal, move the cursor, hide text or plant a hyperlink (OSC 8),
and bidirectional overrides can make text read differently from what it is.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (but tab and newline) and C1 controls, ESC and CSI included
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional marks, embeddings and overrides
    "\ufff9-\ufffb]"  # interlinear annotation controls
)


def terminal_safe(text: str) -> str:
    """``text`` without control characters and bidi overrides (tab and newline are kept)."""
    return _UNSAFE.sub("", text)


def is_terminal_safe(text: str) -> bool:
    """True when :func:`terminal_safe` would leave ``text`` unchanged."""
    return _UNSAFE.search(text) is None
