"""The collection run: its options, its states, and the summary it ends with.

A run moves ``running`` → one of ``completed``, ``incomplete``, ``budget_stopped``, ``quota_stopped``,
``failed``. ``incomplete`` means the crawl went through but some batches or pages could not be
fetched after their retries: those *gaps* are recorded (quarantine entries ``videos_batch`` and
``playlist_page`` naming the ids, the channel and why) and the next collect fetches them first.
A run that stopped early (or whose process was killed while ``running``) is *resumable*: the next
``tubescope collect`` for the same channels picks it up under the same ``run_id``, so that rows
written before and after the stop belong to one run and idempotent writes cannot double them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tubescope.errors import (
    ApiError,
    BudgetExceeded,
    ConfigError,
    IncompleteRun,
    QuotaExhausted,
    TubescopeError,
)
from tubescope.pipeline.completeness import ChannelCompleteness
from tubescope.pipeline.incremental import ChannelPlan


class RunState(StrEnum):
    """How a collection run ended, or that it is still running."""

    RUNNING = "running"
    COMPLETED = "completed"
    BUDGET_STOPPED = "budget_stopped"
    QUOTA_STOPPED = "quota_stopped"
    FAILED = "failed"
    INCOMPLETE = "incomplete"
    """Every channel was walked, but some batches or pages were not fetched (recorded as gaps)."""
    INTERRUPTED = "interrupted"
    DRY_RUN = "dry_run"
    """Nothing was collected: only the plan was computed (not stored as a run)."""


RESUMABLE = frozenset(
    {
        RunState.RUNNING,
        RunState.INTERRUPTED,
        RunState.BUDGET_STOPPED,
        RunState.QUOTA_STOPPED,
        RunState.FAILED,
        RunState.INCOMPLETE,
    }
)
_TERMINAL = frozenset(
    {
        RunState.COMPLETED,
        RunState.INCOMPLETE,
        RunState.BUDGET_STOPPED,
        RunState.QUOTA_STOPPED,
        RunState.FAILED,
        RunState.DRY_RUN,
    }
)


def can_transition(current: RunState, target: RunState) -> bool:
    """``running`` ends in a terminal state; a resumable state may start running again."""
    if current is RunState.RUNNING:
        return target in _TERMINAL or target is RunState.INTERRUPTED
    if current in RESUMABLE:
        return target is RunState.RUNNING
    return False


def state_for_error(error: BaseException) -> RunState:
    """The state a run ends in when ``error`` stops it."""
    if isinstance(error, BudgetExceeded):
        return RunState.BUDGET_STOPPED
    if isinstance(error, QuotaExhausted):
        return RunState.QUOTA_STOPPED
    return RunState.FAILED


def error_for_state(state: RunState, message: str | None) -> TubescopeError | None:
    """The exception the CLI raises for a run that did not complete (after printing the summary)."""
    text = message or f"the run ended as {state}"
    if state is RunState.BUDGET_STOPPED:
        return BudgetExceeded(text + "; run collect again (with a larger --budget) to resume")
    if state is RunState.QUOTA_STOPPED:
        return QuotaExhausted(text + "; run collect again after midnight US Pacific time to resume")
    if state is RunState.FAILED:
        return ApiError(text)
    if state is RunState.INCOMPLETE:
        return IncompleteRun(text)
    return None


class StopRequest:
    """Asks a running collection to stop at its next checkpoint (a signal handler calls it).

    No new request goes out once it is set; batches in flight commit; the run ends
    ``interrupted`` (resumable) with ``error`` as its summary's error.
    """

    def __init__(self) -> None:
        self.error: TubescopeError | None = None

    def request(self, error: TubescopeError) -> bool:
        """Ask for the stop; False when one was already asked for (the caller may then force it)."""
        if self.error is not None:
            return False
        self.error = error
        return True


@dataclass(frozen=True, slots=True)
class CollectOptions:
    """What the caller asked for; built by the job from flags and Settings."""

    full: bool = False
    dry_run: bool = False
    budget: int | None = None
    comments: bool = False
    max_comments: int | None = None
    """Most top-level comments (threads) stored per video; None for all."""
    allow_search: bool = False
    detect_shorts: bool = False
    channel_concurrency: int = 16
    """Channels crawled at once; requests inside them are bounded by the client's own limit."""
    video_batch_concurrency: int = 4
    """``videos.list`` batches of one channel in flight while its playlist walk goes on."""
    request_concurrency: int = 8
    """Requests the collector keeps in flight; set it to the client's ``max_concurrency``."""
    source: str = "youtube"

    def __post_init__(self) -> None:
        if self.budget is not None and self.budget < 0:
            raise ConfigError("--budget must be a non-negative number of quota units")
        if self.max_comments is not None and self.max_comments < 0:
            raise ConfigError("--max-comments must not be negative")
        if self.max_comments is not None and not self.comments:
            raise ConfigError("--max-comments needs --comments")
        if min(self.channel_concurrency, self.video_batch_concurrency, self.request_concurrency) < 1:
            raise ConfigError("concurrency must be at least 1")


@dataclass(frozen=True, slots=True)
class Skip:
    """Something deliberately not collected, and why (comments disabled, channel not found…)."""

    kind: str
    item_id: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """The skip as a JSON-safe dictionary."""
        return {"kind": self.kind, "id": self.item_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Gap:
    """Something the run should have fetched and could not, after its retries: which and why."""

    kind: str
    """``videos`` (a ``videos.list`` batch), ``playlist_page`` (an uploads page) or ``channel``
    (its lookup; ``channel_id`` is then the reference as given)."""
    channel_id: str
    item_ids: tuple[str, ...]
    """The video ids of the batch, or the page token of the page (empty for the first page)."""
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The gap as a JSON-safe dictionary."""
        return {
            "kind": self.kind,
            "channel_id": self.channel_id,
            "ids": list(self.item_ids),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class CollectSummary:
    """Everything a collection run did: quota, videos, snapshots, comments, gaps and completeness."""

    run_id: int | None
    status: RunState
    quota_used: int
    videos_new: int
    videos_updated: int
    snapshots: int
    quarantined: int
    tombstoned: int = 0
    comments: int = 0
    channels: tuple[str, ...] = ()
    completeness: tuple[ChannelCompleteness, ...] = ()
    plan: tuple[ChannelPlan, ...] = ()
    skipped: tuple[Skip, ...] = ()
    gaps: tuple[Gap, ...] = ()
    """Batches and pages this run could not fetch after retries; the next collect fetches them."""
    resumed: bool = False
    quota_by_key: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    retention: dict[str, Any] | None = None
    """What the retention prune after a completed run removed (None: no prune ran)."""
    exit_error: TubescopeError | None = field(default=None, compare=False, repr=False)
    """The error behind a run that did not complete; the CLI maps it to an exit code."""

    @property
    def planned_units(self) -> int:
        """The quota units the plan allowed for."""
        return sum(p.total_units for p in self.plan)

    def as_dict(self) -> dict[str, Any]:
        """The summary as a JSON-safe dictionary."""
        return {
            "run_id": self.run_id,
            "status": str(self.status),
            "quota_used": self.quota_used,
            "quota_by_key": dict(self.quota_by_key),
            "videos_new": self.videos_new,
            "videos_updated": self.videos_updated,
            "snapshots": self.snapshots,
            "quarantined": self.quarantined,
            "tombstoned": self.tombstoned,
            "comments": self.comments,
            "channels": list(self.channels),
            "resumed": self.resumed,
            "error": self.error,
            "retention": self.retention,
            "completeness": [c.as_dict() for c in self.completeness],
            "plan": {
                "total_units": self.planned_units,
                "channels": [p.as_dict() for p in self.plan],
            },
            "skipped": [s.as_dict() for s in self.skipped],
            "gaps": [g.as_dict() for g in self.gaps],
        }
