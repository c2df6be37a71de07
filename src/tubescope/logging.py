"""structlog setup with secret redaction. Configured only by the CLI and the service."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

from tubescope.errors import ConfigError

_KEY_PARAM = re.compile(r"(?i)([?&;]key=)[^&\s\"']+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_-]{35}")
_TOKEN_PREFIX = re.compile(r"\bts_[A-Za-z0-9_-]{16,}")
# The password of a URL such as postgresql://user:password@host/db or redis://:password@host.
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@")
_SECRET_FIELDS = re.compile(r"(?i)^(api_?key|key|keys|token|secret|password|authorization|api_keys)$")
REDACTED = "[REDACTED]"

_known_secrets: set[str] = set()


def key_fingerprint(secret: str) -> str:
    """A short, stable, non-reversible name for a key, safe to log and store."""
    return "key-" + hashlib.sha256(secret.encode()).hexdigest()[:10]


def register_secret(secret: str) -> None:
    """Redact this exact value wherever it shows up, whatever its shape."""
    if len(secret) >= 6:
        _known_secrets.add(secret)


# Every pattern above needs one of these substrings: a text without any is left as it is after
# one scan, where five substitutions would cost a service several per cent of each request.
_MAY_HOLD_SECRET = re.compile(r"(?i)key=|bearer|AIza|ts_|://")


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret and each of ``secrets`` replaced by a redaction marker."""
    for secret in (*_known_secrets, *secrets):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    if not _MAY_HOLD_SECRET.search(text):
        return text
    text = _KEY_PARAM.sub(r"\1" + REDACTED, text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    text = _GOOGLE_KEY.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(r"\1" + REDACTED + "@", text)
    return _TOKEN_PREFIX.sub(REDACTED, text)


@functools.lru_cache(maxsize=4096)
def _is_secret_field(name: str) -> bool:
    return _SECRET_FIELDS.match(name) is not None


def _redact_value(name: str, value: Any) -> Any:
    if _is_secret_field(name):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(repr(value))
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: strips API keys and tokens from every field of every event."""
    for name in list(event_dict):
        event_dict[name] = _redact_value(name, event_dict[name])
    return event_dict


def _redact_rendered(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # Tracebacks are rendered late by format_exc_info; scrub them again afterwards.
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = redact_text(event_dict["exception"])
    return event_dict


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the moment of writing.

    Binding the stream at configuration time breaks when it is later replaced (test capture,
    daemon redirection) and then closed: every log call would raise on a closed file.
    """

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level_number(level: str) -> int:
    """The :mod:`logging` number of ``level`` (any case); ConfigError for a name that is none."""
    name = level.strip().upper()
    if name not in LEVELS:
        raise ConfigError(f"unknown log level {level!r}: use one of {', '.join(LEVELS)}")
    number: int = getattr(logging, name)
    return number


_current: dict[str, Any] = {"renderer": None, "level": logging.INFO}
"""The renderer and level of the last :func:`configure_logging`, for :func:`capture_stdlib_loggers`."""

_BOOLEANS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _shared_processors() -> list[Any]:
    import structlog

    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
        structlog.processors.format_exc_info,
        _redact_rendered,
    ]


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    """JSON lines when stderr is not a terminal, coloured console output when it is.

    Every event carries what is bound with :mod:`structlog.contextvars` (the service binds
    ``request_id``, jobs ``job_id``, collection runs ``run_id``). ConfigError for an unknown level.
    """
    # Imported here: structlog (with asyncio and rich's tracebacks) is a third of a bare CLI start.
    import structlog

    number = log_level_number(level)
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    _current["renderer"] = renderer
    _current["level"] = number
    structlog.configure(
        processors=[*_shared_processors(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def configure_from_env(default_level: str, *, debug: bool = False, json: bool | None = None) -> None:
    """:func:`configure_logging` from ``TUBESCOPE_LOG_LEVEL`` and ``TUBESCOPE_LOG_JSON``.

    ``--debug`` wins over the level, an explicit ``json`` over the format; read straight from the
    environment so that commands which never load their settings still honour them.
    """
    level = "DEBUG" if debug else (os.environ.get("TUBESCOPE_LOG_LEVEL") or default_level)
    if json is None:
        raw = os.environ.get("TUBESCOPE_LOG_JSON", "").strip().lower()
        if raw and raw not in _BOOLEANS:
            raise ConfigError(f"TUBESCOPE_LOG_JSON must be true or false, got {raw!r}")
        json = _BOOLEANS.get(raw)
    configure_logging(level, json=json)


def capture_stdlib_loggers(names: Iterable[str], level: str | None = None) -> None:
    """Route these standard-library loggers (uvicorn's, say) through the structlog processors, so
    their lines have the same format, bound context and redaction; ``level`` defaults to the
    level :func:`configure_logging` was last given."""
    import structlog

    renderer = _current["renderer"] or structlog.processors.JSONRenderer()
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_shared_processors(),
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(_current["level"] if level is None else log_level_number(level))
        logger.propagate = False
