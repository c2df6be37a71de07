"""The quarantine: rows that failed validation or could not be placed, kept with their reason.

Nothing a source returned is silently dropped: it is either stored or quarantined here with the
raw payload, so a later fix can replay it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """A record that failed validation, kept with the reason."""

    quarantine_id: int
    run_id: int
    entity: str
    entity_id: str | None
    payload: Any
    reason: str
    source: str
    created_at: datetime


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN/inf; the raw value must still be readable
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def payload_json(payload: Any) -> str:
    """JSON for a raw API dict, a domain dataclass, or a string that already is JSON."""
    if isinstance(payload, str | bytes):
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        try:
            json.loads(text)
        except ValueError:
            return json.dumps({"raw": text})
        return text
    return json.dumps(_jsonable(payload), ensure_ascii=False, allow_nan=False, default=repr)
