"""structlog setup with secret redaction. Configured only by the CLI and the service."""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

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


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in (*_known_secrets, *secrets):
        if secret:
            text = text.replace(secret, REDACTED)
    text = _KEY_PARAM.sub(r"\1" + REDACTED, text)
    text = _BEARER.sub(r"\1" + REDACTED, text)
    text = _GOOGLE_KEY.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(r"\1" + REDACTED + "@", text)
    return _TOKEN_PREFIX.sub(REDACTED, text)


def _redact_value(name: str, value: Any) -> Any:
    if _SECRET_FIELDS.match(name):
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


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    """JSON lines when stderr is not a terminal, coloured console output when it is."""
    # Imported here: structlog (with asyncio and rich's tracebacks) is a third of a bare CLI start.
    import structlog

    as_json = (not sys.stderr.isatty()) if json is None else json
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
        structlog.processors.format_exc_info,
        _redact_rendered,
    ]
    processors.append(structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer())
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
