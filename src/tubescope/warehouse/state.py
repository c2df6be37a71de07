"""Resumability records: per-run checkpoints and per-channel incremental state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far one run got with one channel; a resumed run continues from here."""

    run_id: int
    channel_id: str
    page_token: str | None
    pages_done: int
    channel_done: bool
    done_video_ids: frozenset[str]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class IncrementalState:
    """What the warehouse already knows about a channel, so the next run fetches only what is new."""

    channel_id: str
    newest_video_id: str | None
    newest_published_at: datetime | None
    last_full_crawl_at: datetime | None
    last_full_crawl_run_id: int | None
    last_run_id: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one batch write did. ``skipped`` rows were already stored by this run (a retry)."""

    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    quarantined: int = 0


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many snapshots a prune deleted, and its cutoff."""

    cutoff: datetime
    video_snapshots_deleted: int
    channel_snapshots_deleted: int
