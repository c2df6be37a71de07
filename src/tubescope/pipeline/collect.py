"""Collection orchestration: resolve → walk → fetch → validate → load, incremental and resumable.

One run crawls its channels concurrently. Inside a channel the uploads playlist is walked page by
page (page tokens chain, so the walk itself is sequential) while ``videos.list`` batches for the
pages already walked are in flight. Every batch is validated and written in one transaction
together with the channel's checkpoint, so a kill at any point loses at most the batches in flight;
the next ``tubescope collect`` for the same channels resumes the same run from its checkpoints and,
because writes are idempotent per run, stores no snapshot twice.

The checkpoint's page token only advances over pages whose batches are all committed (batches
finish out of order), and it is cleared when the walk ends, which is how a resumed run knows a walk
is done even when an incremental walk stopped early.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import heapq
import itertools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, ParamSpec, TypeVar

import structlog

from tubescope.domain.models import Comment
from tubescope.domain.refs import ChannelRef
from tubescope.errors import (
    ApiAccessNotConfigured,
    ApiError,
    ApiKeyInvalid,
    BudgetExceeded,
    ChannelNotFound,
    ConfigError,
    IncompleteRun,
    NotFoundError,
    QuotaExhausted,
    RunTakenOver,
    StorageError,
    TransientApiError,
    TubescopeError,
)
from tubescope.pipeline.completeness import ChannelCompleteness, channel_completeness
from tubescope.pipeline.incremental import (
    ChannelPlan,
    KnownChannel,
    WalkMode,
    decide_page,
    plan_channel,
    refresh_batches,
    resolve_units,
)
from tubescope.pipeline.ports import (
    BatchCounts,
    ChannelBegin,
    ChannelFinish,
    ChannelStart,
    CollectApi,
    CollectStore,
    Page,
    PendingWrite,
    Tombstone,
    VideoBatch,
)
from tubescope.pipeline.progress import CollectProgress, SilentProgress
from tubescope.pipeline.run import (
    CollectOptions,
    CollectSummary,
    Gap,
    RunState,
    Skip,
    StopRequest,
    error_for_state,
    state_for_error,
)
from tubescope.pipeline.validate import (
    Accepted,
    InvalidItem,
    Rejected,
    playlist_video_id,
    thread_parts,
    validate_channel,
    validate_comment,
    validate_video,
    validate_video_stat,
)
from tubescope.youtube.errors import ResourceUnavailable

_log = structlog.get_logger("tubescope.pipeline.collect")

Clock = Callable[[], datetime]
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

TOMBSTONE_REASON = "not returned by videos.list: deleted or made private"
GROUP_LINGER_SECONDS = 1.0
"""How long a write waits at most for more batches to share its transaction while requests are
still in flight. A transaction's CPU is mostly fixed (about ten statements): replaying a crawl's
writes measured 37 ms for one batch, 48 ms for 16 and 58 ms for 64 (load 10, 2 cores). At 160
requests a second (80 batches) a one-second linger spends about 0.4 ms of warehouse CPU per
request where a quarter of a second spent about 1.2 ms. With nothing in flight it commits at
once, so the end of a crawl never waits; a kill loses at most the batches of one linger, fetched
again on resume."""
GROUP_TARGET_BATCHES = 64
"""A write starts without lingering once this many batches (3,200 videos) are queued."""
COMMENT_PAGE_SIZE = 100


class _StoreWorker:
    """Runs every warehouse call on one thread, in order, off the event loop.

    DuckDB releases the GIL while it works, so requests keep flowing while a batch is written; one
    thread keeps the connection's transactions strictly one after another.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tubescope-store")

    async def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        ctx = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(ctx.run, fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class _GroupWriter:
    """Group commit: batches that arrive while a write is running are stored together next.

    A warehouse write costs about the same for one batch as for forty, so when fetching outpaces
    writing the queue grows and each transaction takes all of it. When fewer than
    ``target_batches`` are queued and ``busy()`` says requests are still in flight (more batches
    are on their way), the write first lingers, up to ``GROUP_LINGER_SECONDS``, so that they can
    join; when nothing is in flight it commits at once, so the end of a crawl never waits. No
    batch is acknowledged before its transaction commits. Queue order is submission order, which
    is what keeps each channel's checkpoint moving forward only.
    """

    def __init__(
        self,
        worker: _StoreWorker,
        store: CollectStore,
        tally: _Tally,
        clock: Clock,
        *,
        busy: Callable[[], bool] = lambda: True,
        linger_seconds: float = GROUP_LINGER_SECONDS,
        target_batches: int = GROUP_TARGET_BATCHES,
    ) -> None:
        self._busy = busy
        self._arrived = asyncio.Event()
        self._linger = linger_seconds
        self._target = target_batches
        self._worker = worker
        self._store = store
        self._tally = tally
        self._clock = clock
        self.run_id = 0
        self._queue: list[tuple[PendingWrite, asyncio.Future[None]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, pending: PendingWrite) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((pending, done))
        self._arrived.set()
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        await asyncio.shield(done)

    async def flush(self) -> None:
        """Wait until every queued batch is committed (or has failed): before a run is closed."""
        while self._drainer is not None and not self._drainer.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._drainer)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            # Let more batches join while requests are in flight: each transaction has a fixed
            # cost (about ten statements) that a bigger group shares. Nothing is acknowledged
            # before its commit.
            deadline = loop.time() + self._linger
            while len(self._queue) < self._target and self._busy():
                left = deadline - loop.time()
                if left <= 0:
                    break
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), left)
            taken, self._queue = self._queue, []
            try:
                counts = await self._worker.call(
                    self._store.write_batches, self.run_id, [p for p, _ in taken], fetched_at=self._clock()
                )
            except BaseException as exc:
                for _, done in taken:
                    if not done.done():
                        done.set_exception(exc)
                        # Its writer may have been cancelled meanwhile (a sibling failed): mark the
                        # error seen, or asyncio prints "Future exception was never retrieved".
                        done.exception()
                if not isinstance(exc, Exception):
                    raise
                continue
            self._tally.add(counts)
            for _, done in taken:
                if not done.done():
                    done.set_result(None)


class _Grouped(Generic[T, R]):
    """Runs ``call(run_id, items)`` on the warehouse thread for whatever items are queued: the
    items that arrive while one group is being stored go together in the next call (one
    transaction). Nothing lingers: a lone item goes at once.

    A crawl's channel lookups answer all at once, and its channels finish together; one by one,
    each start or finish is a transaction of a few statements (tens of ms on a busy machine)
    while the walks waited, or the run's end did.
    """

    def __init__(self, worker: _StoreWorker, call: Callable[[int, list[T]], list[R]]) -> None:
        self._worker = worker
        self._call = call
        self.run_id = 0
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Queue ``item``; returns its result once its group's call has committed."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._queue:
            taken, self._queue = self._queue, []
            try:
                results = await self._worker.call(self._call, self.run_id, [item for item, _ in taken])
            except BaseException as exc:
                for _, done in taken:
                    if not done.done():
                        done.set_exception(exc)
                        done.exception()  # seen, even when its caller was cancelled meanwhile
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, done), result in zip(taken, results, strict=True):
                if not done.done():
                    done.set_result(result)


@dataclass(slots=True)
class _Tally:
    videos_new: int = 0
    videos_updated: int = 0
    snapshots: int = 0
    quarantined: int = 0
    tombstoned: int = 0
    comments: int = 0
    comments_disabled: int = 0
    skipped: list[Skip] = field(default_factory=list)
    completeness: list[ChannelCompleteness] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def add(self, counts: BatchCounts) -> None:
        self.videos_new += counts.videos_new
        self.videos_updated += counts.videos_updated
        self.snapshots += counts.snapshots
        self.quarantined += counts.quarantined
        self.tombstoned += counts.tombstoned

    def counters(self) -> dict[str, int]:
        return {
            "videos_new": self.videos_new,
            "videos_updated": self.videos_updated,
            "snapshots": self.snapshots,
            "quarantined": self.quarantined,
            "tombstoned": self.tombstoned,
            "comments": self.comments,
            "comments_disabled": self.comments_disabled,
        }


async def run_collection(
    refs: Sequence[ChannelRef],
    options: CollectOptions,
    *,
    api: CollectApi,
    store: CollectStore,
    clock: Clock,
    progress: CollectProgress | None = None,
    stop: StopRequest | None = None,
) -> CollectSummary:
    """Collect ``refs`` into ``store`` through ``api``; never raises for a run that stopped early.

    ``stop`` (set from a signal handler) ends the run at its next checkpoint as ``interrupted``.

    The returned summary's ``status`` says how the run ended (``completed``, ``budget_stopped``,
    ``quota_stopped``, ``failed``); the caller turns a non-completed status into its exit code with
    :func:`tubescope.pipeline.run.error_for_state`. Errors that stop the run before it has a
    ``run_id`` (bad flags, a warehouse that cannot be opened) are raised.
    """
    if not refs:
        raise ConfigError("collect needs at least one channel reference")
    unique = list({ref.raw.strip(): ref for ref in refs}.values())
    costly = [ref.raw for ref in unique if ref.needs_search]
    if costly and not options.allow_search:
        raise ConfigError(
            f"{', '.join(costly)}: a /c/ custom URL can only be resolved with search.list "
            "(100 quota units each); pass --allow-search to spend "
            "them, or use the channel's @handle or UC… id (0 extra units)"
        )
    if options.dry_run:
        return await _dry_run(unique, options, api=api, store=store)
    if options.budget is not None:
        api = BudgetedApi(api, options.budget)
    worker = _StoreWorker()
    try:
        collector = _Collector(options, api, store, worker, clock, progress or SilentProgress())
        collector.stopping.requested = stop
        return await collector.run(unique)
    finally:
        worker.close()


class BudgetedApi:
    """Refuses a call that could take the run past ``--budget``, before it is sent.

    The client enforces the same budget on every attempt it sends (retries included); this guard
    makes the pipeline safe with any :class:`CollectApi`. Reserving happens without an await in
    between, so concurrent tasks cannot both take the last unit.
    """

    def __init__(self, api: CollectApi, budget: int) -> None:
        self._api = api
        self._budget = budget

    @property
    def key_fingerprints(self) -> Sequence[str]:
        """Fingerprints of the API keys in use (never the keys)."""
        return self._api.key_fingerprints

    @property
    def quota_spent(self) -> int:
        """Quota units spent so far."""
        return self._api.quota_spent

    def quota_by_key(self) -> Mapping[str, int]:
        """Quota units spent so far, per key fingerprint."""
        return self._api.quota_by_key()

    def _reserve(self, units: int, what: str) -> None:
        if self._api.quota_spent + units > self._budget:
            raise BudgetExceeded(
                f"the run's budget of {self._budget} quota units would be exceeded: "
                f"{self._api.quota_spent} spent, {what} costs {units}; stopped at a checkpoint",
                reason="budgetExceeded",
            )

    async def lookup_channel(self, ref: ChannelRef, *, allow_search: bool) -> Any | None:
        """Look up a channel, after reserving its cost in the budget."""
        self._reserve(1 + resolve_units(ref), "looking up a channel")
        return await self._api.lookup_channel(ref, allow_search=allow_search)

    async def playlist_page(self, playlist_id: str, page_token: str | None) -> Page:
        """Fetch a playlist page, after reserving its cost in the budget."""
        self._reserve(1, "playlistItems.list")
        return await self._api.playlist_page(playlist_id, page_token)

    async def videos(self, video_ids: Sequence[str]) -> Sequence[Any]:
        """Fetch videos, after reserving their cost in the budget."""
        self._reserve(1, "videos.list")
        return await self._api.videos(video_ids)

    async def video_stats(self, video_ids: Sequence[str]) -> Sequence[Any] | None:
        """Fetch video statistics, after reserving their cost in the budget."""
        self._reserve(1, "videos.batchGetStats")
        return await self._api.video_stats(video_ids)

    async def comment_threads(self, video_id: str, page_token: str | None, max_results: int) -> Page:
        """Fetch a page of comment threads, after reserving its cost in the budget."""
        self._reserve(1, "commentThreads.list")
        return await self._api.comment_threads(video_id, page_token, max_results)

    async def comment_replies(self, parent_id: str, page_token: str | None) -> Page:
        """Fetch a page of replies, after reserving its cost in the budget."""
        self._reserve(1, "comments.list")
        return await self._api.comment_replies(parent_id, page_token)


class _Stop(Exception):
    """Raised inside the collector once the run must stop (budget, quota): no new requests go out.

    Requests already in flight were paid for; their batches still commit, so the run stops at a
    checkpoint that includes everything it bought.
    """


class _CancellingProgress:
    """Lets a progress hook cancel the run by raising a :class:`TubescopeError`.

    The run then stops like it does for a budget: no new requests, batches in flight commit, and
    the run is left ``interrupted`` (resumable); the hook's error becomes the summary's error.
    """

    def __init__(self, inner: CollectProgress, stopping: _StoppingApi) -> None:
        self._inner = inner
        self._stopping = stopping

    def _call(self, hook: Callable[[], None]) -> None:
        try:
            hook()
        except TubescopeError as exc:
            if self._stopping.stop_error is None:
                self._stopping.stop_error = exc
                self._stopping.cancelled = True
                _log.warning("collect.cancelled", message=str(exc))

    def run_opened(self, run_id: int, resumed: bool) -> None:
        # Optional for progress objects written before the hook existed.
        hook = getattr(self._inner, "run_opened", None)
        if hook is not None:
            self._call(lambda: hook(run_id, resumed))

    def channel_started(self, channel_id: str, title: str, expected_videos: int) -> None:
        self._call(lambda: self._inner.channel_started(channel_id, title, expected_videos))

    def page_walked(self, channel_id: str) -> None:
        self._call(lambda: self._inner.page_walked(channel_id))

    def videos_stored(self, channel_id: str, count: int) -> None:
        self._call(lambda: self._inner.videos_stored(channel_id, count))

    def quota_spent(self, units: int) -> None:
        self._call(lambda: self._inner.quota_spent(units))

    def channel_finished(self, channel_id: str) -> None:
        self._call(lambda: self._inner.channel_finished(channel_id))


class _PrioritySlots:
    """At most ``size`` calls in flight; a freed slot goes to the most urgent waiter first.

    Playlist pages are the crawl's critical path (each token comes from the page before), so they
    jump the queue ahead of ``videos.list`` batches, which can wait without delaying anything.
    Without this, the last channels' walks queue behind a backlog of batches and the crawl ends
    with one request in flight at a time.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._sequence = itertools.count()

    async def acquire(self, priority: int) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._sequence), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            else:
                self._waiting = [w for w in self._waiting if w[2] is not turn]
                heapq.heapify(self._waiting)
            raise

    @property
    def in_use(self) -> int:
        """Calls holding a slot now (requests in flight)."""
        return self._size - self._free

    def release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1


URGENT, NORMAL, LATER = 0, 1, 2


class _StoppingApi:
    """Turns the first budget or quota stop into :class:`_Stop` for every later call, and keeps
    the critical path (playlist pages) ahead of the rest."""

    def __init__(self, api: CollectApi, concurrency: int) -> None:
        self._api = api
        self._slots = _PrioritySlots(concurrency)
        self.stop_error: TubescopeError | None = None
        self.cancelled = False
        self.requested: StopRequest | None = None

    @property
    def in_flight(self) -> int:
        """Requests sent and not answered yet."""
        return self._slots.in_use

    def _check_requested(self) -> None:
        if self.stop_error is None and self.requested is not None and self.requested.error is not None:
            self.stop_error = self.requested.error
            self.cancelled = True
            _log.warning("collect.interrupted", message=str(self.requested.error))

    @property
    def key_fingerprints(self) -> Sequence[str]:
        return self._api.key_fingerprints

    @property
    def quota_spent(self) -> int:
        return self._api.quota_spent

    def quota_by_key(self) -> Mapping[str, int]:
        return self._api.quota_by_key()

    async def _guard(self, call: Callable[[], Awaitable[R]], priority: int) -> R:
        self._check_requested()
        if self.stop_error is not None:
            raise _Stop
        await self._slots.acquire(priority)
        try:
            self._check_requested()
            if self.stop_error is not None:
                raise _Stop
            return await call()
        except (BudgetExceeded, QuotaExhausted) as exc:
            if self.stop_error is None:
                self.stop_error = exc
                _log.warning("collect.stopping", reason=exc.reason, message=str(exc))
            raise _Stop from None
        finally:
            self._slots.release()

    async def lookup_channel(self, ref: ChannelRef, *, allow_search: bool) -> Any | None:
        return await self._guard(lambda: self._api.lookup_channel(ref, allow_search=allow_search), URGENT)

    async def playlist_page(self, playlist_id: str, page_token: str | None) -> Page:
        return await self._guard(lambda: self._api.playlist_page(playlist_id, page_token), URGENT)

    async def videos(self, video_ids: Sequence[str]) -> Sequence[Any]:
        return await self._guard(lambda: self._api.videos(video_ids), NORMAL)

    async def video_stats(self, video_ids: Sequence[str]) -> Sequence[Any] | None:
        return await self._guard(lambda: self._api.video_stats(video_ids), NORMAL)

    async def comment_threads(self, video_id: str, page_token: str | None, max_results: int) -> Page:
        return await self._guard(lambda: self._api.comment_threads(video_id, page_token, max_results), LATER)

    async def comment_replies(self, parent_id: str, page_token: str | None) -> Page:
        return await self._guard(lambda: self._api.comment_replies(parent_id, page_token), LATER)


class _Collector:
    def __init__(
        self,
        options: CollectOptions,
        api: CollectApi,
        store: CollectStore,
        worker: _StoreWorker,
        clock: Clock,
        progress: CollectProgress,
    ) -> None:
        self.options = options
        self.stopping = _StoppingApi(api, options.request_concurrency)
        self.api: CollectApi = self.stopping
        self.store = store
        self.worker = worker
        self.clock = clock
        self.progress: CollectProgress = _CancellingProgress(progress, self.stopping)
        self.tally = _Tally()
        self.writer = _GroupWriter(worker, store, self.tally, clock, busy=lambda: self.stopping.in_flight > 0)
        self.starter = _Grouped[ChannelBegin, ChannelStart](worker, store.begin_channels)
        self.finisher = _Grouped[ChannelFinish, int](worker, store.finish_channels)
        self.run_id = 0
        self._reported_quota = 0

    async def run(self, refs: list[ChannelRef]) -> CollectSummary:
        record = await self.worker.call(
            self.store.open_run,
            source=self.options.source,
            refs=[r.raw.strip() for r in refs],
            key_fingerprints=list(self.api.key_fingerprints),
            started_at=self.clock(),
        )
        self.run_id = record.run_id
        self.progress.run_opened(record.run_id, record.resumed)
        self.writer.run_id = record.run_id
        self.starter.run_id = record.run_id
        self.finisher.run_id = record.run_id
        status = RunState.COMPLETED
        error: TubescopeError | None = None
        with structlog.contextvars.bound_contextvars(run_id=self.run_id):
            _log.info(
                "collect.started", channels=len(refs), resumed=record.resumed, options=_opts(self.options)
            )
            try:
                await self._crawl_all(refs)
            except RunTakenOver:
                # Another process resumed this run and carries it on: closing it here would
                # close the newer attempt's run under it.
                _log.warning("collect.taken_over")
                raise
            except TubescopeError as exc:
                status, error = state_for_error(exc), exc
                if self.stopping.cancelled:
                    status = RunState.INTERRUPTED
            except asyncio.CancelledError:
                await self._finish(RunState.INTERRUPTED, "the run was cancelled")
                raise
            except Exception as exc:
                # A bug, not an anticipated failure: the run must not stay 'running' (it is
                # resumable as 'failed'), and the error still reaches the caller as it is.
                with contextlib.suppress(Exception):
                    await self._finish(RunState.FAILED, f"internal error: {type(exc).__name__}: {exc}")
                raise
            if status is RunState.COMPLETED and refs and not self.tally.channels and not self.tally.gaps:
                reasons = "; ".join(s.reason for s in self.tally.skipped) or "nothing found"
                status, error = RunState.FAILED, ChannelNotFound(f"no channel could be collected: {reasons}")
            if status is RunState.COMPLETED and self.tally.gaps:
                status, error = RunState.INCOMPLETE, IncompleteRun(_gaps_line(self.tally.gaps))
            message = str(error) if error is not None else None
            await self.writer.flush()  # no write may land after the run is closed
            await self._finish(status, message)
            _log.info(
                "collect.finished", status=str(status), quota=self.api.quota_spent, **self.tally.counters()
            )
        return CollectSummary(
            run_id=self.run_id,
            status=status,
            quota_used=self.api.quota_spent,
            videos_new=self.tally.videos_new,
            videos_updated=self.tally.videos_updated,
            snapshots=self.tally.snapshots,
            quarantined=self.tally.quarantined,
            tombstoned=self.tally.tombstoned,
            comments=self.tally.comments,
            channels=tuple(self.tally.channels),
            completeness=tuple(self.tally.completeness),
            skipped=tuple(self.tally.skipped),
            gaps=tuple(self.tally.gaps),
            resumed=record.resumed,
            quota_by_key=dict(self.api.quota_by_key()),
            error=message,
            exit_error=_with_hint(status, error),
        )

    async def _finish(self, status: RunState, message: str | None) -> None:
        await self.worker.call(
            self.store.finish_run,
            self.run_id,
            status=str(status),
            quota_by_key=dict(self.api.quota_by_key()),
            counters=self.tally.counters(),
            error=message,
            finished_at=self.clock(),
        )

    async def _crawl_all(self, refs: list[ChannelRef]) -> None:
        gate = asyncio.Semaphore(self.options.channel_concurrency)

        async def one(ref: ChannelRef) -> None:
            async with gate:
                await self._crawl_channel(ref)

        try:
            async with asyncio.TaskGroup() as group:
                for ref in refs:
                    group.create_task(one(ref))
        except BaseExceptionGroup as group_error:
            raise _most_severe(group_error) from None
        if self.stopping.stop_error is not None:
            raise self.stopping.stop_error

    def _report_quota(self) -> None:
        spent = self.api.quota_spent
        if spent != self._reported_quota:
            self.progress.quota_spent(spent - self._reported_quota)
            self._reported_quota = spent

    # ------------------------------------------------------------------ one channel

    async def _crawl_channel(self, ref: ChannelRef) -> None:
        try:
            item = await self.api.lookup_channel(ref, allow_search=self.options.allow_search)
        except _Stop:
            return
        except (ResourceUnavailable, NotFoundError) as exc:
            self._skip("channel", ref.raw, str(exc))
            return
        except TransientApiError as exc:
            # Retries spent looking the channel up: a gap (the whole channel), not a failed run.
            self._report_quota()
            self._gap(Gap("channel", ref.raw, (), f"channels.list failed: {exc}"))
            return
        self._report_quota()
        if item is None:
            self._skip("channel", ref.raw, "no such channel (deleted, terminated or mistyped)")
            return
        observed_at = self.clock()
        checked = validate_channel(item, observed_at=observed_at)
        if isinstance(checked, Rejected):
            await self._quarantine([checked])
            self._skip("channel", ref.raw, f"the channel failed validation: {checked.reason}")
            return
        channel = checked.record.channel
        channel_id = channel.channel_id
        log = _log.bind(channel_id=channel_id)
        start = await self.starter.submit(ChannelBegin(channel, checked.record.snapshot, observed_at))
        self.tally.channels.append(channel_id)
        checkpoint, known_ids = start.checkpoint, start.known_ids
        mode = (
            WalkMode.INCREMENTAL
            if start.crawl_complete and known_ids and not self.options.full
            else WalkMode.FULL
        )
        # An unknown videoCount (None) adds nothing to the progress bar's expected total.
        self.progress.channel_started(channel_id, channel.title, channel.video_count or 0)
        crawl = _ChannelCrawl(
            self, channel_id, mode, known_ids, set(checkpoint.done_video_ids), checkpoint.pages_done
        )
        log.info("collect.channel", mode=str(mode), known=len(known_ids), resumed_pages=checkpoint.pages_done)
        stored: int | None = None
        try:
            gap_ids = await self.worker.call(self.store.open_gaps, channel_id)
            if gap_ids:
                log.info("collect.gaps_first", videos=len(gap_ids))
                await crawl.fetch_gaps([i for i in gap_ids if i not in crawl.done_ids])
            if not checkpoint.channel_done:
                crawl.shorts = await self._shorts_ids(channel_id) if self.options.detect_shorts else None
                if not checkpoint.walk_done and (
                    channel.video_count is None  # not sent: walk to find out
                    or channel.video_count > 0
                    or checkpoint.pages_done > 0
                    or known_ids
                ):
                    await crawl.walk(channel.uploads_playlist_id, checkpoint.page_token)
                await crawl.refresh()
                if self.stopping.stop_error is not None or crawl.walk_failed:
                    raise _Stop
                stored = await self.finisher.submit(
                    ChannelFinish(channel_id, full_walk=mode is WalkMode.FULL, at=self.clock())
                )
            if self.options.comments:
                await self._comments(channel_id, set(checkpoint.comments_done_video_ids))
            finished = self.stopping.stop_error is None
        except _Stop:
            finished = False
        if stored is None:
            stored = await self.worker.call(self.store.count_live_videos, channel_id)
        self.tally.completeness.append(
            channel_completeness(
                channel_id=channel_id,
                video_count=channel.video_count,
                stored_live=stored,
                unavailable=crawl.unavailable,
                tombstoned=crawl.tombstoned,
                quarantined=crawl.quarantined,
                finished=finished,
                not_fetched=crawl.not_fetched,
                stop_reason=self._stop_reason(crawl),
            )
        )
        self.progress.channel_finished(channel_id)

    def _stop_reason(self, crawl: _ChannelCrawl) -> str | None:
        error = self.stopping.stop_error
        if self.stopping.cancelled:
            return "interrupted"
        if isinstance(error, BudgetExceeded):
            return "budget"
        if isinstance(error, QuotaExhausted):
            return "quota"
        if crawl.walk_failed:
            return "errors"
        return None

    def _gap(self, gap: Gap) -> None:
        _log.warning("collect.gap", kind=gap.kind, channel_id=gap.channel_id, ids=len(gap.item_ids))
        self.tally.gaps.append(gap)

    async def _shorts_ids(self, channel_id: str) -> frozenset[str] | None:
        """Members of the channel's ``UUSH`` playlist, or None when the API does not offer it."""
        playlist = "UUSH" + channel_id[2:]
        found: set[str] = set()
        token: str | None = None
        try:
            while True:
                page = await self.api.playlist_page(playlist, token)
                self._report_quota()
                found.update(i for i in map(playlist_video_id, page.items) if i)
                token = page.next_page_token
                if not token:
                    return frozenset(found)
        except ResourceUnavailable:
            _log.info("collect.no_shorts_playlist", channel_id=channel_id)
            return None

    def _skip(self, kind: str, item_id: str, reason: str) -> None:
        _log.warning("collect.skipped", kind=kind, item=item_id, reason=reason)
        self.tally.skipped.append(Skip(kind, item_id, reason))

    async def _quarantine(self, rejected: Sequence[Rejected]) -> int:
        if not rejected:
            return 0
        count = await self.worker.call(self.store.quarantine, self.run_id, list(rejected), at=self.clock())
        self.tally.quarantined += count
        for item in rejected:
            _log.warning("collect.quarantined", kind=item.kind, item=item.item_id, reason=item.reason)
        return count

    # ------------------------------------------------------------------ comments

    async def _comments(self, channel_id: str, done: set[str]) -> None:
        video_ids = await self.worker.call(self.store.known_video_ids, channel_id, before_run=None)
        gate = asyncio.Semaphore(self.options.video_batch_concurrency)

        async def one(video_id: str) -> None:
            async with gate:
                await self._video_comments(channel_id, video_id)

        async with asyncio.TaskGroup() as group:
            for video_id in sorted(video_ids - done):
                group.create_task(one(video_id))

    async def _video_comments(self, channel_id: str, video_id: str) -> None:
        try:
            await self._video_comments_or_stop(channel_id, video_id)
        except _Stop:
            return  # nothing of this video's comments is written: it is fetched again on resume

    async def _video_comments_or_stop(self, channel_id: str, video_id: str) -> None:
        limit = self.options.max_comments
        comments: list[Comment] = []
        rejected: list[Rejected] = []
        threads = 0
        token: str | None = None
        try:
            while limit is None or threads < limit:
                size = COMMENT_PAGE_SIZE if limit is None else max(1, min(COMMENT_PAGE_SIZE, limit - threads))
                page = await self.api.comment_threads(video_id, token, size)
                self._report_quota()
                for thread in page.items:
                    if limit is not None and threads >= limit:
                        break
                    threads += 1
                    await self._thread(video_id, thread, comments, rejected)
                token = page.next_page_token
                if not token:
                    break
        except ResourceUnavailable as exc:
            reason = exc.reason or "unavailable"
            if reason == "commentsDisabled":
                self.tally.comments_disabled += 1
            self._skip("comments", video_id, reason)
        written = await self.worker.call(
            self.store.write_comments,
            self.run_id,
            channel_id,
            video_id,
            comments,
            rejected,
            fetched_at=self.clock(),
        )
        self.tally.comments += written
        await self._count_rejected(rejected)

    async def _count_rejected(self, rejected: Sequence[Rejected]) -> None:
        self.tally.quarantined += len(rejected)
        for item in rejected:
            _log.warning("collect.quarantined", kind=item.kind, item=item.item_id, reason=item.reason)

    async def _thread(
        self, video_id: str, thread: Any, comments: list[Comment], rejected: list[Rejected]
    ) -> None:
        try:
            top, replies, total = thread_parts(thread)
        except InvalidItem as exc:
            rejected.append(Rejected("comment_thread", _raw_id(thread), str(exc), thread))
            return
        checked = validate_comment(top, video_id=video_id, parent_id=None)
        if isinstance(checked, Rejected):
            rejected.append(checked)
            return
        top_comment = checked.record
        comments.append(_with_reply_count(top_comment, total))
        inline = [validate_comment(r, video_id=video_id, parent_id=top_comment.comment_id) for r in replies]
        if total > len(replies):
            inline = []
            token: str | None = None
            while True:
                page = await self.api.comment_replies(top_comment.comment_id, token)
                self._report_quota()
                inline.extend(
                    validate_comment(r, video_id=video_id, parent_id=top_comment.comment_id)
                    for r in page.items
                )
                token = page.next_page_token
                if not token:
                    break
        for result in inline:
            if isinstance(result, Accepted):
                comments.append(result.record)
            else:
                rejected.append(result)


class _ChannelCrawl:
    """One channel's walk and refresh, with the ordered checkpoint bookkeeping."""

    def __init__(
        self,
        collector: _Collector,
        channel_id: str,
        mode: WalkMode,
        known_ids: frozenset[str],
        done_ids: set[str],
        pages_before: int,
    ) -> None:
        self.c = collector
        self.channel_id = channel_id
        self.mode = mode
        self.known_ids = known_ids
        self.done_ids = done_ids
        self.pages_before = pages_before
        self.shorts: frozenset[str] | None = None
        self.unavailable = 0
        self.tombstoned = 0
        self.quarantined = 0
        self.not_fetched = 0
        self.walk_failed = False
        # Page n (1-based over the whole crawl) → token after it; None when the walk ended there.
        self._token_after: dict[int, str | None] = {}
        self._pending_pages: set[int] = set()
        self._frontier = pages_before
        self._gate = asyncio.Semaphore(collector.options.video_batch_concurrency)
        self.deferred: list[str] = []
        """New ids on the page where the incremental walk stopped: they join the refresh."""
        self._deferred_page: int | None = None

    async def walk(self, playlist_id: str, start_token: str | None) -> None:
        token = start_token
        page_no = self.pages_before
        seen_tokens: set[str] = set()
        async with asyncio.TaskGroup() as group:
            while True:
                page = await self._page(playlist_id, token)
                if page is None:
                    break
                page_no += 1
                ids = [i for i in map(playlist_video_id, page.items) if i]
                # done_ids as it is, not a frozen copy: copying thousands of ids per page made
                # the walk quadratic in the channel's size (only read, and no await in between).
                decision = decide_page(self.mode, ids, self.known_ids, page.next_page_token, self.done_ids)
                after = None if decision.stop else page.next_page_token
                self._token_after[page_no] = after
                self.c.progress.page_walked(self.channel_id)
                if decision.deferred:
                    # Fetched with the refresh; the checkpoint waits for them.
                    self._pending_pages.add(page_no)
                    self.deferred, self._deferred_page = list(decision.deferred), page_no
                if decision.fetch_ids:
                    self._pending_pages.add(page_no)
                    self.done_ids.update(decision.fetch_ids)
                    await self._gate.acquire()
                    group.create_task(self._fetch(list(decision.fetch_ids), page_no))
                elif not self._pending_pages:
                    await self._advance_empty(page_no)
                if after is None:
                    break
                if after in seen_tokens:
                    raise TransientApiError(
                        f"the uploads playlist {playlist_id} repeated a page token; stopped to avoid a loop",
                        reason="repeatedPageToken",
                    )
                seen_tokens.add(after)
                token = after

    async def _page(self, playlist_id: str, token: str | None) -> Page | None:
        try:
            page = await self.c.api.playlist_page(playlist_id, token)
        except _Stop:
            # Leave the loop normally: batches already in flight finish and commit.
            return None
        except ResourceUnavailable as exc:
            # A channel with no public uploads has no uploads playlist to list.
            self.c._skip("playlist", playlist_id, exc.reason or "unavailable")
            return None
        except TransientApiError as exc:
            # Retries are spent on this page: record the gap, stop this channel's walk where its
            # checkpoint is (the run stays resumable from there), and let the other channels go on.
            reason = f"playlistItems.list failed: {exc}"
            self.walk_failed = True
            self.c._gap(Gap("playlist_page", self.channel_id, (token,) if token else (), reason))
            payload = {"channel_id": self.channel_id, "playlist_id": playlist_id, "page_token": token}
            await self.c._quarantine([Rejected("playlist_page", playlist_id, reason, payload)])
            return None
        finally:
            self.c._report_quota()
        return page

    async def fetch_gaps(self, video_ids: list[str]) -> None:
        """Fetch the ids earlier runs recorded as not fetched, 50 at a time, before anything else."""
        async with asyncio.TaskGroup() as group:
            for start in range(0, len(video_ids), 50):
                if self.c.stopping.stop_error is not None:
                    break
                batch = video_ids[start : start + 50]
                self.done_ids.update(batch)
                await self._gate.acquire()
                group.create_task(self._fetch(batch, None))

    async def refresh(self) -> None:
        """Fetch the walk's deferred new videos and refresh the known ones, at the least quota.

        Known videos' statistics go through ``videos.batchGetStats`` (its own quota bucket) where
        the server has it, and the new ones through ``videos.list``. Where it lacks it (the first
        stats batch tells, before any main-bucket unit is spent), new and known share full
        ``videos.list`` batches.
        """
        done = frozenset(self.done_ids)
        deferred = [i for i in dict.fromkeys(self.deferred) if i not in done]
        known = refresh_batches(self.known_ids, done | set(deferred))
        listed: list[list[str]] = []
        if known and self.c.stopping.stop_error is None:
            try:
                first = await self.c.api.video_stats(known[0])
            except _Stop:
                return
            finally:
                self.c._report_quota()
            if first is None:
                listed = refresh_batches(self.known_ids, done, deferred=deferred)
                known = []
            else:
                self.done_ids.update(known[0])
                await self._store_stats(known[0], first)
                known = known[1:]
        if not listed:
            listed = refresh_batches((), done, deferred=deferred)
        async with asyncio.TaskGroup() as group:
            for index, batch in enumerate(listed):
                if self.c.stopping.stop_error is not None:
                    break
                self.done_ids.update(batch)
                await self._gate.acquire()
                # The batch holding the deferred ids completes the page the walk stopped on.
                page_no = self._deferred_page if index == 0 and deferred else None
                group.create_task(self._fetch(batch, page_no))
            for batch in known:
                if self.c.stopping.stop_error is not None:
                    break
                self.done_ids.update(batch)
                await self._gate.acquire()
                group.create_task(self._fetch_stats(batch))

    async def _fetch_stats(self, ids: list[str]) -> None:
        try:
            items = await self.c.api.video_stats(ids)
        except _Stop:
            return
        finally:
            self._gate.release()
            self.c._report_quota()
        if items is None:  # its bucket ran out mid-run: these few go through videos.list
            await self._gate.acquire()
            await self._fetch(ids, None)
            return
        await self._store_stats(ids, items)

    async def _store_stats(self, ids: list[str], items: Sequence[Any]) -> None:
        """Snapshots of known videos from stats items; known ids missing from the answer are gone."""
        batch = VideoBatch(self.channel_id)
        observed_at = self.c.clock()
        returned: set[str] = set()
        for item in items:
            checked = validate_video_stat(item, observed_at=observed_at)
            if isinstance(checked, Accepted):
                video_id = checked.record.video_id
                if video_id not in ids or video_id in returned:
                    batch.rejected.append(Rejected("video_stat", video_id, "not requested or repeated", item))
                    continue
                returned.add(video_id)
                batch.snapshots.append(checked.record)
            else:
                if checked.item_id:
                    returned.add(checked.item_id)
                batch.rejected.append(checked)
        batch.tombstones.extend(Tombstone(v, TOMBSTONE_REASON) for v in ids if v not in returned)
        await self.c.writer.write(PendingWrite(batch, None, self._frontier, False))
        self.tombstoned += len(batch.tombstones)
        self.quarantined += len(batch.rejected)
        self.c.progress.videos_stored(self.channel_id, len(batch.snapshots))

    async def _advance_empty(self, page_no: int) -> None:
        """A page with nothing to fetch: move the checkpoint when no earlier page is still pending."""
        self._frontier = page_no
        write = PendingWrite(VideoBatch(self.channel_id), self._token_after[page_no], page_no, True)
        await self.c.writer.write(write)

    async def _fetch(self, ids: list[str], page_no: int | None) -> None:
        try:
            batch = await self._fetch_batch(ids)
        except _Stop:
            return  # its page stays pending, so the checkpoint never moves past it
        finally:
            # Free the slot as soon as the answer is in: writing may take longer than fetching.
            self._gate.release()
        advance = False
        frontier = self._frontier
        if page_no is not None:
            # Batches finish out of order: the checkpoint may only move over pages whose
            # batches are all committed. No await between here and the write below, so
            # writes reach the store in the order their frontiers were computed.
            self._pending_pages.discard(page_no)
            pending_below = min(self._pending_pages, default=None)
            walked = max(self._token_after)
            frontier = walked if pending_below is None else pending_below - 1
            advance = frontier > self._frontier
            if advance:
                self._frontier = frontier
        await self.c.writer.write(PendingWrite(batch, self._token_after.get(frontier), frontier, advance))
        self.unavailable += len(batch.unavailable)
        self.tombstoned += len(batch.tombstones)
        gaps = [r for r in batch.rejected if r.kind == "videos_batch"]
        self.not_fetched += sum(len(r.raw["video_ids"]) for r in gaps)
        self.quarantined += len(batch.rejected) - len(gaps)
        self.c.progress.videos_stored(self.channel_id, len(batch.videos))
        for item in batch.rejected:
            _log.warning("collect.quarantined", kind=item.kind, item=item.item_id, reason=item.reason)

    async def _fetch_batch(self, ids: list[str]) -> VideoBatch:
        batch = VideoBatch(self.channel_id)
        try:
            items = await self.c.api.videos(ids)
        except TransientApiError as exc:
            # Retries are spent (a proxy keeps mangling the body, the server keeps failing): keep a
            # record of exactly which ids were not collected and why, and carry on with the rest.
            self.c._report_quota()
            reason = f"videos.list failed: {exc}"
            payload = {"video_ids": ids, "channel_id": self.channel_id}
            batch.rejected.append(Rejected("videos_batch", ",".join(ids), reason, payload))
            self.c._gap(Gap("videos", self.channel_id, tuple(ids), reason))
            return batch
        self.c._report_quota()
        # Let the request that takes over this call's slot go out before these 50 items are
        # validated (a few ms of CPU): otherwise every slot idles for that long per answer.
        await asyncio.sleep(0)
        observed_at = self.c.clock()
        returned: set[str] = set()
        for item in items:
            in_shorts = None if self.shorts is None else _raw_id(item) in self.shorts
            checked = validate_video(
                item, channel_id=self.channel_id, observed_at=observed_at, in_shorts_playlist=in_shorts
            )
            if isinstance(checked, Accepted):
                if checked.record.video.video_id not in ids or checked.record.video.video_id in returned:
                    batch.rejected.append(
                        Rejected("video", checked.record.video.video_id, "not requested or repeated", item)
                    )
                    continue
                returned.add(checked.record.video.video_id)
                batch.videos.append(checked.record.video)
                batch.snapshots.append(checked.record.snapshot)
            else:
                if checked.item_id:
                    returned.add(checked.item_id)
                batch.rejected.append(checked)
        for video_id in ids:
            if video_id in returned:
                continue
            if video_id in self.known_ids:
                batch.tombstones.append(Tombstone(video_id, TOMBSTONE_REASON))
            else:
                batch.unavailable.append(video_id)
        return batch


def _gaps_line(gaps: Sequence[Gap]) -> str:
    """One line: what is missing, why, and how to fetch it."""
    videos = sum(len(g.item_ids) for g in gaps if g.kind == "videos")
    pages = sum(1 for g in gaps if g.kind == "playlist_page")
    lookups = sum(1 for g in gaps if g.kind == "channel")
    channels = len({g.channel_id for g in gaps})
    parts = (
        ([f"{videos} video(s)"] if videos else [])
        + ([f"{pages} uploads page(s)"] if pages else [])
        + ([f"{lookups} channel lookup(s)"] if lookups else [])
    )
    return (
        f"incomplete: {' and '.join(parts)} of {channels} channel(s) not fetched after retries "
        f"({gaps[0].reason}); run the same collect again to fetch them first"
    )


def _with_hint(status: RunState, error: TubescopeError | None) -> TubescopeError | None:
    """Budget and quota stops tell the user how to resume; other errors speak for themselves."""
    if error is not None and status in (RunState.BUDGET_STOPPED, RunState.QUOTA_STOPPED):
        return error_for_state(status, str(error))
    return error


def _with_reply_count(comment: Comment, total: int) -> Comment:
    return Comment(
        comment_id=comment.comment_id,
        video_id=comment.video_id,
        parent_id=None,
        author=comment.author,
        text=comment.text,
        like_count=comment.like_count,
        published_at=comment.published_at,
        updated_at=comment.updated_at,
        reply_count=total,
        extra=comment.extra,
    )


def _raw_id(item: Any) -> str | None:
    value = item.get("id") if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


_SEVERITY: tuple[type[BaseException], ...] = (
    StorageError,
    QuotaExhausted,
    RunTakenOver,
    BudgetExceeded,
    ApiError,
    TubescopeError,
)


def _most_severe(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one error that decides how a run ends when several channel tasks failed together.

    A superseded attempt (RunTakenOver) comes first, then fatal key errors and storage failures,
    then quota and budget stops, then the rest; an unexpected exception (a bug) is re-raised as it is.
    """
    leaves = _leaves(group)
    for leaf in leaves:
        if not isinstance(leaf, TubescopeError):
            return leaf
    ranked: tuple[type[BaseException], ...] = (
        RunTakenOver,
        ApiKeyInvalid,
        ApiAccessNotConfigured,
        *_SEVERITY,
    )
    for kind in ranked:
        for leaf in leaves:
            if isinstance(leaf, kind):
                return leaf
    return leaves[0]


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in error.exceptions:
            out.extend(_leaves(inner))
        return out
    return [error]


def _opts(options: CollectOptions) -> dict[str, object]:
    return {
        "full": options.full,
        "budget": options.budget,
        "comments": options.comments,
        "detect_shorts": options.detect_shorts,
    }


# ---------------------------------------------------------------------- dry run


async def _dry_run(
    refs: list[ChannelRef], options: CollectOptions, *, api: CollectApi, store: CollectStore
) -> CollectSummary:
    """The exact plan, from the warehouse where it knows the channel, else from one lookup each.

    A channel the warehouse has never seen needs its ``videoCount``: one ``channels.list`` call
    (plus whatever resolving the reference costs). Those units are spent now and reported in
    ``quota_used``; a channel already stored is planned without any request.
    """
    plans: list[ChannelPlan] = []
    skipped: list[Skip] = []
    for ref in refs:
        channel_id = store.known_channel_id(ref)
        video_count = store.stored_video_count(channel_id) if channel_id else None
        notes: tuple[str, ...] = ()
        if channel_id is None or video_count is None:
            try:
                item = await api.lookup_channel(ref, allow_search=options.allow_search)
            except (ResourceUnavailable, NotFoundError) as exc:
                skipped.append(Skip("channel", ref.raw, str(exc)))
                continue
            if item is None:
                skipped.append(Skip("channel", ref.raw, "no such channel"))
                continue
            checked = validate_channel(item, observed_at=datetime.now().astimezone())
            if isinstance(checked, Rejected):
                skipped.append(Skip("channel", ref.raw, checked.reason))
                continue
            channel_id = checked.record.channel.channel_id
            video_count = checked.record.channel.video_count
            notes = ("planning looked the channel up: its units are in quota_used",)
        else:
            notes = ("planned from the warehouse: uploads since the last run add to the estimate",)
        known_ids = store.known_video_ids(channel_id, before_run=None)
        known = KnownChannel(channel_id, known_ids, store.crawl_complete(channel_id), video_count)
        if video_count is None:
            notes = (*notes, "the API sent no videoCount: planned from the videos already stored")
        plan = plan_channel(
            ref,
            channel_id=channel_id,
            video_count=len(known_ids) if video_count is None else video_count,
            known=known,
            full=options.full,
            detect_shorts=options.detect_shorts,
            comments=options.comments,
        )
        plans.append(dataclasses.replace(plan, notes=(*plan.notes, *notes)))
    return CollectSummary(
        run_id=None,
        status=RunState.DRY_RUN,
        quota_used=api.quota_spent,
        videos_new=0,
        videos_updated=0,
        snapshots=0,
        quarantined=0,
        plan=tuple(plans),
        skipped=tuple(skipped),
        quota_by_key=dict(api.quota_by_key()),
    )
