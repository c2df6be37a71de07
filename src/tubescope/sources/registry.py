"""Data-source plugins, found through the ``tubescope.sources`` entry-point group.

A third-party package adds a source by declaring, in its own ``pyproject.toml``::

    [project.entry-points."tubescope.sources"]
    mysource = "mypackage.module:MySource"

where ``MySource`` implements :class:`tubescope.sources.base.Source`.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from tubescope.errors import ConfigError

GROUP = "tubescope.sources"


def available_sources() -> list[str]:
    """Names of every installed source plugin, sorted."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def load_source(name: str) -> type:
    """The source class registered under ``name``; a clear error naming the installed ones."""
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            loaded = ep.load()
            if not isinstance(loaded, type):
                raise ConfigError(f"source plugin {name!r} ({ep.value}) is not a class")
            return loaded
    installed = ", ".join(available_sources()) or "none"
    raise ConfigError(f"no data source named {name!r}; installed: {installed}")
