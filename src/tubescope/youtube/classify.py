"""Every Data API response goes through :func:`classify_response`: one table, one decision.

The decision is what the client does next, not what went wrong:

* ``OK``: parse the body.
* ``RETRY``: back off and send the same request again (rate limits, server errors, bodies that were
  cut off or are not the API's JSON: a proxy or a load balancer answered).
* ``SKIP``: this one resource is gone, private or closed; record why and carry on with the rest.
* ``STOP_FOR_QUOTA``: the key is out of quota for the day; rotate keys or checkpoint and stop.
* ``FATAL``: retrying cannot help (bad key, API not enabled, malformed request); fail fast.

Google reports the reason twice in newer bodies: ``error.errors[].reason`` (the classic YouTube
reasons) and ``error.details[].reason`` (``google.rpc.ErrorInfo``). Both are read; when they
disagree the most severe decision wins, because a key problem must not be retried just because a
second reason looks transient.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from tubescope.logging import redact_text


class Action(StrEnum):
    """What to do with an API response: accept, retry, skip, stop for quota, or fail."""

    OK = "ok"
    RETRY = "retry"
    SKIP = "skip"
    STOP_FOR_QUOTA = "stop_for_quota"
    FATAL = "fatal"


class FatalKind(StrEnum):
    """Why a failure is fatal."""

    KEY_INVALID = "key_invalid"
    ACCESS_NOT_CONFIGURED = "access_not_configured"
    BAD_REQUEST = "bad_request"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one response, and the facts that led there (already free of secrets)."""

    action: Action
    status: int
    reason: str | None = None
    message: str = ""
    retry_after_seconds: float | None = None
    fatal_kind: FatalKind | None = None
    body: Any = None
    """The decoded JSON body when ``action`` is ``OK``; None otherwise."""


_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg"})
_RETRY_REASONS = frozenset(
    {
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "backendError",
        "internalError",
        "serviceUnavailable",
        "RATE_LIMIT_EXCEEDED",
        "INTERNAL",
        "UNAVAILABLE",
    }
)
_SKIP_REASONS = frozenset(
    {
        "videoNotFound",
        "channelNotFound",
        "playlistNotFound",
        "commentNotFound",
        "commentThreadNotFound",
        "commentsDisabled",
        "forbidden",
        "playlistItemsNotAccessible",
        "channelForbidden",
        "channelClosed",
        "channelSuspended",
        "videoForbidden",
        "notFound",
    }
)
_KEY_REASONS = frozenset(
    {
        "keyInvalid",
        "keyExpired",
        "API_KEY_INVALID",
        "API_KEY_EXPIRED",
        "API_KEY_SERVICE_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED",
        "API_KEY_IP_ADDRESS_BLOCKED",
        "ipRefererBlocked",
    }
)
_ACCESS_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED", "CONSUMER_INVALID"})
_BAD_REQUEST_REASONS = frozenset(
    {"badRequest", "invalidParameter", "missingRequiredParameter", "unknownPart", "invalidFilters"}
)
_SEVERITY = {
    Action.FATAL: 4,
    Action.STOP_FOR_QUOTA: 3,
    Action.SKIP: 2,
    Action.RETRY: 1,
    Action.OK: 0,
}


def classify_response(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> Verdict:
    """Decide what to do with one HTTP response from the Data API (or whatever stood in front of it)."""
    retry_after = parse_retry_after((headers or {}).get("retry-after") or (headers or {}).get("Retry-After"))
    decoded, decodable = _decode(body)

    if 200 <= status < 300:
        if not decodable or not isinstance(decoded, dict):
            return Verdict(Action.RETRY, status, "malformedBody", "the response body is not complete JSON")
        return Verdict(Action.OK, status, body=decoded)

    error = decoded.get("error") if isinstance(decoded, dict) else None
    if not isinstance(error, dict):
        # Truncated JSON, an HTML page from a proxy, or the non-standard {"error": "message"}: none
        # of these carry a reason we could act on, and all are what a flaky hop in between produces.
        text = error if isinstance(error, str) else _snippet(body)
        if status == 401:
            return _fatal(status, None, text, FatalKind.KEY_INVALID)
        if status == 400 and isinstance(error, str):
            # The non-standard {"error": "message"} on a 400: the request itself is wrong, and
            # sending it again cannot help (a proxy's broken page is retried below as before).
            return _fatal(status, "badRequest", text, FatalKind.BAD_REQUEST)
        if status in (404, 405, 501):
            # No such endpoint on this server (an API base URL typo, or a method it lacks).
            return _fatal(status, "endpointNotFound", text, FatalKind.BAD_REQUEST)
        return Verdict(Action.RETRY, status, "unrecognisedErrorBody", _clean(text), retry_after)

    message = _clean(str(error.get("message") or ""))
    reasons = _reasons(error)
    candidates: list[tuple[tuple[Action, FatalKind | None], str | None]] = [
        (_by_reason(status, reason, message), reason) for reason in reasons
    ]
    if not candidates:
        status_name = error.get("status")
        candidates = [(_by_status(status, message), status_name if isinstance(status_name, str) else None)]
    (action, fatal_kind), reason = max(candidates, key=lambda c: _SEVERITY[c[0][0]])
    if action is Action.FATAL:
        return _fatal(status, reason, message, fatal_kind)
    return Verdict(action, status, reason, message, retry_after)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form; HTTP dates are rare here)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def _by_reason(status: int, reason: str, message: str) -> tuple[Action, FatalKind | None]:
    if reason in _KEY_REASONS:
        return Action.FATAL, FatalKind.KEY_INVALID
    if reason in _ACCESS_REASONS:
        return Action.FATAL, FatalKind.ACCESS_NOT_CONFIGURED
    if reason in _QUOTA_REASONS:
        return Action.STOP_FOR_QUOTA, None
    if reason in _RETRY_REASONS:
        if status == 429 and _mentions_quota(message):
            return Action.STOP_FOR_QUOTA, None
        return Action.RETRY, None
    if reason in _SKIP_REASONS:
        return Action.SKIP, None
    if reason in _BAD_REQUEST_REASONS:
        return Action.FATAL, FatalKind.BAD_REQUEST
    return _by_status(status, message)


def _by_status(status: int, message: str) -> tuple[Action, FatalKind | None]:
    if status == 429:
        return (Action.STOP_FOR_QUOTA, None) if _mentions_quota(message) else (Action.RETRY, None)
    if status >= 500 or status == 408:
        return Action.RETRY, None
    if status in (403, 404, 410):
        return Action.SKIP, None
    if status == 401:
        return Action.FATAL, FatalKind.KEY_INVALID
    return Action.FATAL, FatalKind.BAD_REQUEST


def _reasons(error: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for field in ("errors", "details"):
        entries = error.get(field)
        if isinstance(entries, list):
            for entry in entries:
                if isinstance(entry, dict) and isinstance(entry.get("reason"), str) and entry["reason"]:
                    found.append(entry["reason"])
    return found


def _fatal(status: int, reason: str | None, message: str, kind: FatalKind | None) -> Verdict:
    return Verdict(Action.FATAL, status, reason, _clean(message), fatal_kind=kind or FatalKind.BAD_REQUEST)


def _mentions_quota(message: str) -> bool:
    return "quota" in message.lower()


def _decode(body: bytes) -> tuple[Any, bool]:
    try:
        return orjson.loads(body), True  # several times faster than json on 50-video pages
    except orjson.JSONDecodeError:
        pass
    try:  # what orjson refuses and json takes (UTF-16 bodies, integers past 64 bits)
        return json.loads(body), True
    except (ValueError, UnicodeDecodeError):
        return None, False


def _snippet(body: bytes) -> str:
    text = body[:200].decode("utf-8", errors="replace").strip()
    return text or "empty body"


def _clean(text: str) -> str:
    return redact_text(" ".join(text.split()))[:500]
