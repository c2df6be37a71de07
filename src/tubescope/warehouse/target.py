"""Where the warehouse lives: a DuckDB file (the embedded default) or a PostgreSQL URL.

``--db`` and ``TUBESCOPE_DB_URL`` accept either; :func:`parse_target` tells them apart. A
:class:`PostgresTarget` never shows its password: ``str()``, ``repr()`` and every error message
use :attr:`PostgresTarget.display`, so a URL can be logged or echoed safely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tubescope.errors import ConfigError

POSTGRES_SCHEMES = ("postgresql", "postgres")
DEFAULT_POOL_SIZE = 10
"""Connections one process keeps to a PostgreSQL warehouse unless ``TUBESCOPE_DB_POOL_SIZE`` says."""
_PASSWORD_IN_TEXT = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@")
_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&\s]+")


def redact_url(text: str) -> str:
    """``text`` with any ``postgresql://user:password@`` password replaced by ``***``."""
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD_IN_TEXT.sub(r"\1***@", text))


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """A PostgreSQL warehouse; ``url`` holds the secret, the printed forms never do."""

    url: str = field(repr=False)
    pool_size: int | None = field(default=None, compare=False)
    """Most connections this process keeps to the database (``TUBESCOPE_DB_POOL_SIZE``); None:
    the backend's default. The first open of a database in a process sizes its pool."""

    @property
    def display(self) -> str:
        """The URL with its password masked (what logs, errors and ``--help`` output show)."""
        return redact_url(self.url)

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"PostgresTarget({self.display!r})"


WarehouseTarget = Path | PostgresTarget
"""A DuckDB file path or a PostgreSQL database."""


def is_postgres_url(value: str) -> bool:
    """Whether ``value`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return value.split("://", 1)[0].lower() in POSTGRES_SCHEMES and "://" in value


def with_pool_size(target: WarehouseTarget, pool_size: int | None) -> WarehouseTarget:
    """``target`` with its PostgreSQL pool bounded by ``pool_size`` (a DuckDB file as it is)."""
    if isinstance(target, PostgresTarget) and pool_size is not None:
        return PostgresTarget(target.url, pool_size=pool_size)
    return target


def parse_target(value: str | Path | PostgresTarget) -> WarehouseTarget:
    """A warehouse target from ``--db``/settings: a PostgreSQL URL, else a DuckDB file path."""
    if isinstance(value, PostgresTarget | Path):
        return value
    text = value.strip()
    if not text:
        raise ConfigError("empty warehouse target: pass a DuckDB file path or a postgresql:// URL")
    if is_postgres_url(text):
        parts = urlsplit(text)
        if not parts.hostname and "host=" not in parts.query:
            raise ConfigError(f"{redact_url(text)}: a PostgreSQL URL needs a host")
        # psycopg understands only the postgresql:// spelling of the scheme reliably.
        return PostgresTarget(urlunsplit(("postgresql", *parts[1:])))
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigError(f"unsupported warehouse URL scheme {scheme!r}: use a file path or postgresql://")
    return Path(text)


def describe(target: WarehouseTarget) -> str:
    """A printable name for the target (file path, or URL without password)."""
    return str(target)
