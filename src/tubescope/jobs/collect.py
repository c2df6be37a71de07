"""The collect job: Settings and flags in, a finished (or cleanly stopped) collection run out.

This is the only place that turns :class:`~tubescope.config.Settings` into the small option
objects the client and the pipeline take. It also owns the Rich progress display, since both the
CLI and the service call this job and only the CLI wants a bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import httpx
import structlog
from redis.exceptions import RedisError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from tubescope.config import Settings, load_settings
from tubescope.domain.refs import ChannelRef, parse_channel_ref
from tubescope.errors import ConfigError, Interrupted
from tubescope.jobs.cache import announce_run
from tubescope.jobs.common import settings_for, warehouse_target
from tubescope.jobs.quota import QuotaUsage
from tubescope.jobs.retention import RetentionPolicy, apply_policy, policy_from, prune_warehouse
from tubescope.pipeline.adapters import WarehouseStore, YouTubeApi
from tubescope.pipeline.collect import run_collection
from tubescope.pipeline.progress import CollectProgress
from tubescope.pipeline.run import CollectOptions, CollectSummary, RunState, StopRequest
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import WarehouseTarget
from tubescope.youtube.client import ClientOptions, YouTubeClient
from tubescope.youtube.shared_quota import RedisQuotaLedger

Clock = Callable[[], datetime]
_log = structlog.get_logger("tubescope.jobs.collect")


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def collect(
    refs: Sequence[str],
    *,
    db_path: WarehouseTarget | str | None = None,
    api_keys: Sequence[str] = (),
    api_base: str | None = None,
    budget: int | None = None,
    comments: bool = False,
    max_comments: int | None = None,
    full: bool = False,
    dry_run: bool = False,
    allow_search: bool = False,
    detect_shorts: bool = False,
    settings: Settings | None = None,
    progress: CollectProgress | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = utc_now,
    on_quota_usage: Callable[[QuotaUsage], None] | None = None,
) -> CollectSummary:
    """Collect ``refs`` (``UC…`` ids, ``@handles``, channel or video URLs) into the warehouse.

    Flags win over ``settings`` (environment ``TUBESCOPE_*`` and ``tubescope.toml``). Every
    reference is parsed before any request is sent. A run that stops early (budget, quota,
    failure) still returns its summary; ``summary.exit_error`` says why. ``on_quota_usage`` hears
    what each key spent per quota bucket when the client closes, however the run ended.
    """
    parsed = parse_refs(refs)
    cfg = settings or load_settings(db_path=db_path, youtube_api_base=api_base)
    options = CollectOptions(
        full=full,
        dry_run=dry_run,
        budget=budget,
        comments=comments,
        max_comments=max_comments,
        allow_search=allow_search,
        detect_shorts=detect_shorts,
        request_concurrency=cfg.max_concurrency,
        channel_concurrency=max(4, 2 * cfg.max_concurrency),
    )
    keys = [k for k in api_keys if k.strip()] or [k.get_secret_value() for k in cfg.api_keys]
    if not keys:
        raise ConfigError("no YouTube API key: pass --api-key or set TUBESCOPE_API_KEYS")
    client_options = ClientOptions(
        requests_per_second=cfg.requests_per_second,
        max_concurrency=cfg.max_concurrency,
        max_retries=cfg.max_retries,
        breaker_threshold=cfg.breaker_failures,
        breaker_reset_seconds=cfg.breaker_reset_seconds,
        timeout_seconds=cfg.request_timeout_seconds,
        budget_units=budget,
    )
    target = warehouse_target(db_path, cfg)
    retention_days = None if dry_run else cfg.retention_days
    stop = StopRequest()
    clocks = _RunClock(clock)
    # The alert check after the run reads and writes the warehouse the run used, still open:
    # opening and closing it again (with its migrations check and checkpoint) cost about 0.1 s.
    with _open_warehouse(target, dry_run=dry_run, clock=clocks.stamp) as warehouse:
        job = _collect(
            stop,
            parsed,
            options,
            warehouse,
            cfg.youtube_api_base,
            keys,
            client_options,
            progress,
            transport,
            clocks,
            retention_days,
            None if dry_run else _shared_quota_spec(cfg),
            None if dry_run else policy_from(cfg),
            on_quota_usage,
        )
        try:
            with _fewer_gc_passes(), asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
                summary = runner.run(job)
        except asyncio.CancelledError:
            # A second signal cancelled the run outright; it was still left interrupted (resumable).
            raise stop.error or Interrupted("the collection was cancelled; run it again to resume") from None
        if not dry_run and summary.channels:
            _announce(settings_for(cfg, target), summary.channels)
        if not dry_run and summary.run_id is not None:
            _check_alerts(cfg, warehouse, summary.channels)
    return summary


class _RunClock:
    """The time a run stamps what it stores: the caller's clock, or else the API's own (its
    ``Date`` header, once the client has heard one), so the emulator's world clock and the real
    API both date what they served."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.server: Clock | None = None

    def stamp(self) -> datetime:
        """Now, by the API's clock when the caller gave none and the client has one."""
        if self.clock is utc_now and self.server is not None:
            return self.server()
        return self.clock()


def _open_warehouse(target: WarehouseTarget, *, dry_run: bool, clock: Clock) -> Warehouse:
    """The warehouse a run writes, or a dry run plans from.

    A dry run writes nothing: it plans from the warehouse read-only, or from an empty one in
    memory when none exists yet (so not even the file is created). A real run is leased: a
    running ``tubescope serve`` or another command gets the file between batches.
    """
    opened, read_only = target, False
    if dry_run and isinstance(target, Path):
        opened, read_only = (target, True) if target.is_file() else (Path(":memory:"), False)
    # Many small transactions: DuckDB's extra worker threads would only compete with the event
    # loop for the cores (measured: about 10% less CPU per video with one).
    return Warehouse.open(opened, read_only=read_only, clock=clock, threads=1, lease=not dry_run)


GC_YOUNG_THRESHOLD = 20_000
"""Net new container objects between young-generation collections while a crawl runs (CPython's
default is 700). Every API page allocates thousands of short-lived dicts and records, which
triggered about 200 collections and 2 full ones per 20,000-video crawl, about 0.3 ms of CPU per
request (a tenth of the collector's); the raised threshold leaves at most this many objects of
cyclic garbage waiting."""
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Raise the young-generation GC threshold for the crawl, then put it back.

    Collections may run in several threads of one process (the service): the first to enter
    saves the threshold and the last to leave restores it.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            if _gc_saved[0]:  # 0: automatic collection is off, and stays off
                gc.set_threshold(max(GC_YOUNG_THRESHOLD, _gc_saved[0]), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)
                _gc_saved = None


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (a dependency off Windows), else asyncio's.

    The collector spends most of its CPU per request in the event loop and the HTTP stack;
    uvloop's C loop and transports take about a tenth off it (benchmarks/collect.py).
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows, or a build without it
        return None
    return uvloop.new_event_loop


def _check_alerts(settings: Settings, warehouse: Warehouse, channel_ids: Sequence[str]) -> None:
    """Evaluate the alert rules now that a run landed (never failing the collection), in the
    warehouse the run wrote."""
    from tubescope.jobs.alerts import after_run_logged

    after_run_logged(settings, warehouse, channel_ids)


def _announce(settings: Settings, channel_ids: Sequence[str]) -> None:
    """Tell the caches shared with other processes that these channels have new data; a cache
    that cannot be reached is no reason to fail a collection that landed."""
    try:
        announce_run(settings, channel_ids)
    except (RedisError, OSError, sqlite3.Error) as exc:
        _log.warning("cache_invalidation_failed", error=type(exc).__name__)


def _shared_quota_spec(cfg: Settings) -> tuple[str, int, str] | None:
    """With Redis configured, every process spends the keys' daily quota from one shared ledger
    (its URL, daily units and key prefix)."""
    return (cfg.redis_url, cfg.key_daily_quota, cfg.redis_prefix) if cfg.redis_url else None


async def _collect(
    stop: StopRequest,
    refs: list[ChannelRef],
    options: CollectOptions,
    warehouse: Warehouse,
    api_base: str,
    keys: list[str],
    client_options: ClientOptions,
    progress: CollectProgress | None,
    transport: httpx.AsyncBaseTransport | None,
    clocks: _RunClock,
    retention_days: int | None,
    shared_quota: tuple[str, int, str] | None = None,
    policy: RetentionPolicy | None = None,
    on_quota_usage: Callable[[QuotaUsage], None] | None = None,
) -> CollectSummary:
    stamped = clocks.stamp
    # With Redis, the keys' daily quota is one ledger for every process (the client closes it).
    ledger = RedisQuotaLedger.from_url(*shared_quota) if shared_quota is not None else None
    with _stop_on_signals(stop):
        async with YouTubeClient(
            api_base, keys, client_options, transport=transport, shared_quota=ledger
        ) as client:
            clocks.server = client.server_now
            try:
                summary = await run_collection(
                    refs,
                    options,
                    api=YouTubeApi(client),
                    store=WarehouseStore(warehouse),
                    clock=stamped,
                    progress=progress,
                    stop=stop,
                )
            finally:
                if on_quota_usage is not None:
                    on_quota_usage(QuotaUsage(client.quota_by_key_bucket(), client.exhausted_by_bucket()))
        if retention_days is not None and summary.status is RunState.COMPLETED:
            # Only after a completed run: a stopped one is resumed first, and prunes then.
            pruned = prune_warehouse(warehouse, retention_days, now=stamped())
            summary = dataclasses.replace(summary, retention=pruned.as_dict())
        if policy is not None and policy.strict and summary.status is RunState.COMPLETED:
            # strict retention: old raw statistics become derived daily aggregates
            applied = apply_policy(warehouse, policy, now=clocks.clock())
            if applied is not None:
                summary = dataclasses.replace(summary, retention=applied.as_dict())
        return summary


SIGNAL_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""Exit codes of a collect stopped by a signal: 128 + the signal number, as shells report them."""


@contextlib.contextmanager
def _stop_on_signals(stop: StopRequest) -> Iterator[None]:
    """SIGINT and SIGTERM ask the run to stop at its next checkpoint; a second one cancels it.

    Only in the main thread (the service runs collections in worker threads, which cannot own
    signal handlers: there, nothing is installed and the process's own handling applies).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    installed: list[signal.Signals] = []

    def handle(sig: signal.Signals) -> None:
        error = Interrupted(
            f"stopped by {sig.name} at a checkpoint; run the same collect again to resume",
            exit_code=SIGNAL_EXIT_CODES[sig],
        )
        if not stop.request(error) and task is not None:
            task.cancel()  # asked twice: stop now (the run is still left interrupted, resumable)

    for sig in SIGNAL_EXIT_CODES:
        try:
            loop.add_signal_handler(sig, handle, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def parse_refs(refs: Sequence[str]) -> list[ChannelRef]:
    """Parse every reference up front, so a typo fails before any quota is spent."""
    if not refs:
        raise ConfigError("collect needs at least one channel reference (UC… id, @handle or URL)")
    return [parse_channel_ref(ref) for ref in refs]


class RichProgress:
    """Progress bars on stderr: videos stored, playlist pages walked, quota units spent."""

    def __init__(self, console: Console | None = None, *, budget: int | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._videos: TaskID = self._progress.add_task("videos", total=None)
        self._pages: TaskID = self._progress.add_task("pages", total=None)
        self._quota: TaskID = self._progress.add_task("quota", total=budget)
        self._expected = 0
        self._started = False

    def __enter__(self) -> RichProgress:
        return self  # the bars appear with the first channel, so a dry run shows none

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._started:
            self._progress.stop()

    def run_opened(self, run_id: int, resumed: bool) -> None:
        """Nothing to show: the summary names the run."""

    def channel_started(self, channel_id: str, title: str, expected_videos: int) -> None:
        """Start the progress display at the first channel and count its expected videos."""
        if not self._started:
            self._started = True
            self._progress.start()
        self._expected += expected_videos
        self._progress.update(self._videos, total=self._expected)
        self._progress.update(self._pages, total=self._expected // 50 + 1 if self._expected else None)

    def page_walked(self, channel_id: str) -> None:
        """Count one playlist page walked."""
        self._progress.advance(self._pages)

    def videos_stored(self, channel_id: str, count: int) -> None:
        """Count ``count`` videos stored."""
        self._progress.advance(self._videos, count)

    def quota_spent(self, units: int) -> None:
        """Count ``units`` of quota spent."""
        self._progress.advance(self._quota, units)

    def channel_finished(self, channel_id: str) -> None:
        """Nothing to show when a channel finishes."""
        return None


def summary_text(summary: CollectSummary) -> str:
    """A few readable lines for the terminal (``--json`` prints :meth:`CollectSummary.as_dict`)."""
    if summary.plan or str(summary.status) == "dry_run":
        lines = [f"dry run: {summary.planned_units} quota unit(s) planned"]
        for plan in summary.plan:
            units: dict[str, int] = dict(plan.as_dict()["units"])  # type: ignore[call-overload]
            shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in units.items() if v)
            lines.append(f"  {plan.ref} ({plan.channel_id}): {plan.mode}, {plan.expected_uploads} uploads")
            lines.append(f"    units: {shown}")
            lines.extend(f"    - {note}" for note in plan.notes)
        if summary.quota_used:
            lines.append(f"  planning itself spent {summary.quota_used} unit(s) looking channels up")
    else:
        lines = [
            f"run {summary.run_id}: {summary.status}"
            + (" (resumed)" if summary.resumed else "")
            + f"; {summary.quota_used} quota unit(s) used",
            f"  videos new {summary.videos_new}, updated {summary.videos_updated}, "
            f"snapshots {summary.snapshots}, quarantined {summary.quarantined}, "
            f"tombstoned {summary.tombstoned}, comments {summary.comments}",
        ]
        if summary.retention is not None:
            lines.append(
                f"  retention: pruned {summary.retention['video_snapshots_deleted']} video and "
                f"{summary.retention['channel_snapshots_deleted']} channel snapshot(s) older than "
                f"{summary.retention['older_than_days']} days"
            )
        for report in summary.completeness:
            lines.append(f"  {report.channel_id}: {report.found} of {report.expected} videos stored")
            lines.extend(f"    - {reason}" for reason in report.reasons)
    if summary.channels or summary.exit_error is None:
        # when no channel was collected the error that follows names these reasons: said once
        lines.extend(f"  skipped {s.kind} {s.item_id}: {s.reason}" for s in summary.skipped)
    return "\n".join(lines)
