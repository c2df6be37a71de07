"""tubescope: YouTube channel analytics — collect, store, analyse, predict, present.

Importing the package stays cheap (the CLI starts from it): a public name added here is listed in
``_LAZY`` and imported from its module on first use (PEP 562), never at import time.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {}
"""Public name -> the module that defines it, imported when the name is first used."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tubescope' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
