"""Lineage: collection runs, the records every stored row points back to.

A run stores which key *fingerprints* it used and the quota each spent, never a key. A run that
stopped early (killed, out of quota, over budget) keeps its ``run_id`` when resumed, so the rows
it wrote before and after the stop belong to one run and idempotent writes cannot double them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tubescope.errors import ConfigError


class RunStatus(StrEnum):
    """How a collection run ended, or that it is still running."""

    RUNNING = "running"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    """Every channel was walked, but some batches or pages were not fetched (the run's gaps)."""
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    QUOTA_STOPPED = "quota_stopped"
    BUDGET_STOPPED = "budget_stopped"


RESUMABLE_STATUSES: frozenset[RunStatus] = frozenset(
    {
        RunStatus.RUNNING,
        RunStatus.INTERRUPTED,
        RunStatus.QUOTA_STOPPED,
        RunStatus.BUDGET_STOPPED,
        RunStatus.INCOMPLETE,
        RunStatus.FAILED,
    }
)
"""A run left in one of these states has work left; ``running`` means its process died, an
``incomplete`` run has gaps to fetch, and a ``failed`` run resumes like a stopped one."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A collection run as stored: its source, status, times, keys, quota and counters."""

    run_id: int
    source: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    channel_refs: tuple[str, ...]
    key_fingerprints: tuple[str, ...]
    quota_spent: Mapping[str, int]
    counters: Mapping[str, int]
    error: str | None
    attempts: int

    @property
    def total_quota_spent(self) -> int:
        """Quota units spent by all keys."""
        return sum(self.quota_spent.values())


_FINGERPRINT = re.compile(r"^key-[0-9a-f]{10}$")
# Shapes of secrets that must never be stored even if an upstream error message carries one.
_SECRET_SHAPES = (
    re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"(?i)((?:key|token|access_token|pageToken)=)[^&\s\"']+"),
    re.compile(r"(?i)(bearer\s+)[0-9A-Za-z._\-]+"),
)


def check_fingerprints(fingerprints: Sequence[str]) -> tuple[str, ...]:
    """Refuse anything that is not a ``key_fingerprint``: a raw key must never reach the database."""
    for fingerprint in fingerprints:
        if not _FINGERPRINT.match(fingerprint):
            raise ConfigError(
                "key fingerprints must look like 'key-0123456789' (tubescope.logging.key_fingerprint);"
                " refusing to store something else"
            )
    return tuple(sorted(set(fingerprints)))


def scrub_error(text: str | None) -> str | None:
    """``text`` with secrets redacted, for storing as a run's error."""
    if text is None:
        return None
    for shape in _SECRET_SHAPES:
        text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
    return text


def normalise_refs(refs: Sequence[str]) -> tuple[str, ...]:
    """Order-independent identity of the channels a run was asked for (used to find its resume)."""
    return tuple(sorted({ref.strip() for ref in refs if ref.strip()}))


def merge_counts(earlier: Mapping[str, int], more: Mapping[str, int] | None) -> dict[str, int]:
    """``earlier`` with the counts of ``more`` added."""
    merged = dict(earlier)
    for name, value in (more or {}).items():
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"count {name!r} must be a non-negative integer, got {value!r}")
        merged[name] = merged.get(name, 0) + value
    return merged


def parse_counts(raw: str | None) -> dict[str, int]:
    """Counts stored as JSON, as a dictionary."""
    loaded: Any = json.loads(raw) if raw else {}
    return {str(k): int(v) for k, v in dict(loaded).items()}


def summary_from_row(row: Sequence[Any]) -> RunSummary:
    """Row order: see ``RUN_COLUMNS``."""
    return RunSummary(
        run_id=int(row[0]),
        source=str(row[1]),
        status=RunStatus(row[2]),
        started_at=row[3],
        finished_at=row[4],
        channel_refs=tuple(row[5]),
        key_fingerprints=tuple(row[6]),
        quota_spent=parse_counts(row[7]),
        counters=parse_counts(row[8]),
        error=row[9],
        attempts=int(row[10]),
    )


RUN_COLUMNS = (
    "run_id, source, status, started_at, finished_at, channel_refs, key_fingerprints, "
    "CAST(quota_spent AS VARCHAR), CAST(counters AS VARCHAR), error, attempts"
)
