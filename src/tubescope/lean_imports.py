"""Cheaper imports for one-shot commands: scipy without its import-time docstring rewriting.

Since scipy 1.15, scipy parses the numpydoc docstring of nearly every public function when its
module is imported, to append notes to it: ``xp_capabilities`` adds a table of the array
libraries the function supports, ``_axis_nan_policy`` documents ``axis``/``nan_policy``/
``keepdims``, ``_transition_to_rng`` documents ``rng``. All of them parse with
``scipy._lib._docscrape.FunctionDoc`` and render the parsed docstring back to text. In a
``tubescope report`` of a 10k-video channel that is ~0.3 s of CPU, a tenth of the command,
spent on text nobody in the process reads.

:func:`skip_scipy_docstring_rewrites` swaps ``FunctionDoc`` for :class:`KeptDocstring`, which
keeps each docstring as written and ignores the additions. It must run before scipy's
submodules are imported (each binds ``FunctionDoc`` when it is imported). Only docstrings
change: scipy's functions, their signatures and every result are the same objects as without
it. Used only by the CLI's one-shot commands (``analyze``, ``report``); the service and the
Python API import scipy unchanged.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

# The scipy modules that bind ``FunctionDoc`` when imported; once one of them is imported, the
# swap comes too late for it.
_DOCSTRING_REWRITERS = (
    "scipy._lib._util",
    "scipy._lib._array_api",
    "scipy._lib.deprecation",
    "scipy.stats._axis_nan_policy",
)


class KeptDocstring:
    """Stands in for scipy's ``FunctionDoc``: the function's docstring as written.

    Sections read through it are empty lists and additions to them are dropped; rendered back
    (``str``), it is an empty first line (where ``FunctionDoc`` puts the signature, which
    scipy strips) followed by the docstring.
    """

    def __init__(self, func: Any, role: str = "func", doc: str | None = None, config: Any = None) -> None:
        """Keep ``doc``, or else the docstring of ``func``."""
        self._doc = doc if doc is not None else (inspect.getdoc(func) or "")
        self._sections: dict[str, Any] = {}

    def __getitem__(self, section: str) -> Any:
        """A section, empty unless set: what is added to it is never rendered."""
        return self._sections.setdefault(section, [])

    def __setitem__(self, section: str, value: Any) -> None:
        """Accept a section (ignored when rendered)."""
        self._sections[section] = value

    def __str__(self) -> str:
        """The docstring as written, after an empty signature line."""
        return f"\n{self._doc}"


def skip_scipy_docstring_rewrites() -> bool:
    """Make the scipy modules imported from now on keep their docstrings as written.

    Returns whether the swap was made: not when scipy is missing, when its docstring parser has
    moved (then scipy imports as usual), or when a module that rewrites docstrings is already
    imported (the swap would only make the process's docstrings inconsistent).
    """
    if any(name in sys.modules for name in _DOCSTRING_REWRITERS):
        return False
    try:
        from scipy._lib import _docscrape
    except ImportError:
        return False
    if not inspect.isclass(getattr(_docscrape, "FunctionDoc", None)):
        return False
    _docscrape.FunctionDoc = KeptDocstring
    return True
