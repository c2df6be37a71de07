"""tubescope: YouTube channel analytics — collect, store, analyse, predict, present.

Importing the package stays cheap (the CLI starts from it): a public name added here is listed in
``_LAZY`` and imported from its module on first use (PEP 562), never at import time.

The Python API is :func:`tubescope.open` (see :mod:`tubescope.api`)::

    import tubescope
    with tubescope.open("tubescope.duckdb") as ts:
        channel = ts.channel("@somehandle")
        channel.videos()      # pandas DataFrame
        channel.kpis()        # the key figures every surface shows
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Channel", "Tubescope", "__version__", "open"]

if TYPE_CHECKING:
    from tubescope.api import Channel, Tubescope, open

_LAZY: dict[str, str] = {"open": "tubescope.api", "Tubescope": "tubescope.api", "Channel": "tubescope.api"}
"""Public name -> the module that defines it, imported when the name is first used."""


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562), not at ``import tubescope``.

    importlib, not an import statement: the root package must not count as importing the
    facade, or every module reading ``__version__`` would "import" the layer above it.
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tubescope' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
