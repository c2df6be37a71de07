"""The watch-list jobs: add, remove and list watched channels, and plan their daily quota."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from tubescope.config import Settings, load_settings
from tubescope.errors import ChannelNotFound, ConfigError, TubescopeError
from tubescope.jobs.common import resolve_stored_channel, utc_now, warehouse_target
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import WarehouseTarget
from tubescope.warehouse.watches import (
    Watch,
    add_watches,
    get_subscription,
    list_watches,
    release_ticks,
    remove_watches,
    save_subscription,
    upload_rates,
)
from tubescope.warehouse.watches import (
    claim_dense_pass as claim_pass,
)
from tubescope.watch import websub
from tubescope.watch.plan import DenseSampling, WatchedChannel, WatchPlan, pass_at, plan
from tubescope.watch.schedule import claim_due, dense_due
from tubescope.watch.sweep import SweepResult

_log = structlog.get_logger("tubescope.jobs.watch")

_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
RETRY_FAILED_TICK_AFTER = timedelta(hours=1)
"""A watch tick whose job failed is claimable again this long after it: soon enough to keep the
day's snapshot, not so soon that an outage or a spent quota is hit again at every timer tick."""
DEFAULT_UPLOADS_PER_DAY = 1 / 7
"""Cadence assumed for a channel with no recent uploads stored (about weekly)."""


def parse_every(text: str) -> timedelta:
    """``30m``, ``6h``, ``1d`` or ``1w`` as a period; at least one minute, at most four weeks."""
    match = _EVERY.match(text.lower())
    if match is None:
        raise ConfigError(f"invalid period {text!r}: use a number and m, h, d or w, such as 1d or 6h")
    period = float(match.group(1)) * _UNIT[match.group(2)]
    if not timedelta(minutes=1) <= period <= timedelta(weeks=4):
        raise ConfigError(f"invalid period {text!r}: it must be between 1 minute and 4 weeks")
    return period


@dataclass(frozen=True)
class WatchChange:
    """What ``watch add`` or ``watch remove`` did."""

    channel_ids: list[str]
    changed: int


def _resolve(warehouse: Warehouse, refs: Sequence[str]) -> tuple[list[str], list[str]]:
    known, unknown = [], []
    for ref in refs:
        try:
            known.append(resolve_stored_channel(warehouse, ref))
        except ChannelNotFound:
            unknown.append(ref)
    return known, unknown


def add(
    refs: Sequence[str],
    *,
    every: timedelta = timedelta(days=1),
    group: str = "default",
    db: WarehouseTarget | str | None = None,
    settings: Settings | None = None,
) -> WatchChange:
    """Watch ``refs``. Channels not collected yet are collected first (their first tick)."""
    cfg = settings or load_settings()
    target = warehouse_target(db, cfg)
    if not refs:
        raise ConfigError("name at least one channel to watch")
    with Warehouse.open(target) as warehouse:
        known, unknown = _resolve(warehouse, refs)
    if unknown:
        from tubescope.jobs.collect import collect

        collect(unknown, db_path=target, settings=cfg)
        with Warehouse.open(target) as warehouse:
            known += _resolve(warehouse, unknown)[0]
    with Warehouse.open(target) as warehouse:
        added = add_watches(warehouse, sorted(set(known)), every=every, group=group, at=utc_now())
    return WatchChange(sorted(set(known)), len(added))


def remove(refs: Sequence[str], *, db: WarehouseTarget | str | None = None) -> WatchChange:
    """Stop watching ``refs`` (collected data stays)."""
    with Warehouse.open(warehouse_target(db)) as warehouse:
        known, unknown = _resolve(warehouse, refs)
        if unknown:
            raise ChannelNotFound(f"not in the warehouse: {', '.join(unknown)}")
        removed = remove_watches(warehouse, known)
    return WatchChange(known, removed)


def watch_stored(warehouse: Warehouse, refs: Sequence[str], *, every: timedelta, group: str) -> WatchChange:
    """Watch channels that are already collected, on an open warehouse: no collection, no quota.

    The service's path (REST and dashboard), where a request must answer at once; a channel never
    collected is :class:`ChannelNotFound` naming how to collect it. ``changed`` counts new watches.
    """
    ids = sorted({resolve_stored_channel(warehouse, ref) for ref in refs})
    added = add_watches(warehouse, ids, every=every, group=group, at=utc_now())
    return WatchChange(ids, len(added))


def watch_table(warehouse: Warehouse) -> list[dict[str, Any]]:
    """The watch list as a person reads it: each watch with its channel's title and handle, how
    often it is collected, and when it is next due (``None``: at the scheduler's next tick)."""
    table = warehouse.query_arrow("SELECT channel_id, title, handle FROM channels").to_pylist()
    names: dict[str, tuple[str, str | None]] = {
        row["channel_id"]: (row["title"] or row["channel_id"], row["handle"]) for row in table
    }
    return [
        {
            "channel_id": w.channel_id,
            "title": names.get(w.channel_id, (w.channel_id, None))[0],
            "handle": names.get(w.channel_id, (w.channel_id, None))[1],
            "every": describe_every(w.every),
            "group": w.group,
            "added_at": w.added_at,
            "last_tick_at": w.last_tick_at,
            "next_due_at": w.last_tick_at + w.every if w.last_tick_at is not None else None,
        }
        for w in list_watches(warehouse)
    ]


def watches(*, db: WarehouseTarget | str | None = None, group: str | None = None) -> list[Watch]:
    """The watch list."""
    with Warehouse.open(warehouse_target(db)) as warehouse:
        return list_watches(warehouse, group)


def daily_plan(
    *, db: WarehouseTarget | str | None = None, settings: Settings | None = None, keys: int | None = None
) -> WatchPlan:
    """Units per bucket per day for the current watch list, against the keys' daily quota."""
    cfg = settings or load_settings()
    with Warehouse.open(warehouse_target(db, cfg)) as warehouse:
        listed = list_watches(warehouse)
        rates = upload_rates(warehouse, [w.channel_id for w in listed])
    channels = [
        WatchedChannel(
            w.channel_id,
            videos=rates[w.channel_id][0],
            uploads_per_day=rates[w.channel_id][1] or DEFAULT_UPLOADS_PER_DAY,
            every=w.every,
        )
        for w in listed
    ]
    n_keys = keys if keys is not None else max(1, len(cfg.api_keys))
    return plan(
        channels,
        quota_per_bucket=cfg.key_daily_quota,
        keys=n_keys,
        dense=dense_schedule(cfg),
        push=bool(cfg.public_url),
    )


def dense_schedule(settings: Settings) -> DenseSampling | None:
    """The dense sampling of new videos the settings ask for (None: turned off)."""
    if settings.watch_dense_until_hours == 0:
        return None
    hours = timedelta(hours=1)
    return DenseSampling(
        hourly_until=min(settings.watch_dense_hourly_hours, settings.watch_dense_until_hours) * hours,
        then_every=settings.watch_dense_every_hours * hours,
        until=settings.watch_dense_until_hours * hours,
    )


def sweep(
    now: datetime,
    *,
    channel_ids: Sequence[str] = (),
    pushed: dict[str, str] | None = None,
    dense: bool = True,
    settings: Settings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SweepResult:
    """One watch tick at ``now`` (the ``watch`` job): refresh the claimed ``channel_ids``, fetch
    ``pushed`` new videos (``video_id -> channel_id``) and, with ``dense``, the dense pass of
    ``now``'s hour. Spends what :func:`tubescope.watch.plan.tick_units` counts."""
    import asyncio

    from tubescope.pipeline.kpi_aggregates import refresh_channel_kpis
    from tubescope.watch.sweep import sweep as run_sweep
    from tubescope.youtube.client import ClientOptions, YouTubeClient
    from tubescope.youtube.shared_quota import RedisQuotaLedger

    cfg = settings or load_settings()
    keys = [k.get_secret_value() for k in cfg.api_keys]
    if not keys:
        raise ConfigError("no YouTube API key: set TUBESCOPE_API_KEYS")
    options = ClientOptions(
        requests_per_second=cfg.requests_per_second,
        max_concurrency=cfg.max_concurrency,
        max_retries=cfg.max_retries,
        breaker_threshold=cfg.breaker_failures,
        breaker_reset_seconds=cfg.breaker_reset_seconds,
        timeout_seconds=cfg.request_timeout_seconds,
    )
    schedule = dense_schedule(cfg) if dense else None

    async def run() -> SweepResult:
        ledger = RedisQuotaLedger.from_url(cfg.redis_url, cfg.key_daily_quota) if cfg.redis_url else None
        with Warehouse.open(warehouse_target(None, cfg), threads=1, lease=True) as warehouse:
            async with YouTubeClient(
                cfg.youtube_api_base, keys, options, transport=transport, shared_quota=ledger
            ) as client:
                result = await run_sweep(
                    client, warehouse, now=now, channel_ids=channel_ids, pushed=pushed, dense=schedule
                )
            # The sweep's statistics reach the maintained fleet KPIs as a collection run's do
            # (until then its channels are marked stale and fleet queries scan them).
            refresh_channel_kpis(warehouse, at=now)
            return result

    try:
        result = asyncio.run(run())
    except TubescopeError:
        # The claimed channels were not refreshed: try them again within the hour, not a period
        # (a day) later. A stop for resume raises no TubescopeError: the resumed job collects them.
        if channel_ids:
            with Warehouse.open(warehouse_target(None, cfg)) as warehouse:
                again = release_ticks(warehouse, channel_ids, now, now + RETRY_FAILED_TICK_AFTER)
            _log.warning("watch.tick_released", channels=len(again), retry_in=str(RETRY_FAILED_TICK_AFTER))
        raise
    if result.run_id is not None:
        from tubescope.jobs.alerts import after_run_logged

        after_run_logged(cfg, warehouse_target(None, cfg), result.touched)
    return result


def claim_dense_pass(borrow: Callable[[], AbstractContextManager[Warehouse]], now: datetime) -> bool:
    """Claim the dense pass of ``now``'s whole hour: True for one caller per hour (it runs it)."""
    with borrow() as warehouse:
        return claim_pass(warehouse, pass_at(now), now)


def dense_work(
    borrow: Callable[[], AbstractContextManager[Warehouse]], now: datetime, settings: Settings
) -> int:
    """How many young videos the dense pass of ``now``'s hour would sample (0: nothing to do)."""
    schedule = dense_schedule(settings)
    if schedule is None:
        return 0
    with borrow() as warehouse:
        return len(dense_due(warehouse, now, schedule))


def describe_every(every: timedelta) -> str:
    """``1d``, ``6h``, ``30m`` for a period (the form ``--every`` takes)."""
    for unit, size in (("w", _UNIT["w"]), ("d", _UNIT["d"]), ("h", _UNIT["h"])):
        count = every / size
        if count >= 1 and math.isclose(count, round(count)):
            return f"{round(count)}{unit}"
    return f"{round(every / _UNIT['m'])}m"


def tick(borrow: Callable[[], AbstractContextManager[Warehouse]], now: datetime) -> list[str]:
    """Claim the watched channels due at ``now`` (in the warehouse ``borrow`` lends); the caller
    enqueues one collect job for them. Racing schedulers never claim the same tick twice."""
    with borrow() as warehouse:
        return claim_due(warehouse, now)


def watch_rows(listed: Sequence[Watch]) -> list[dict[str, Any]]:
    """JSON-ready rows of the watch list (CLI ``--json`` and ``GET /v1/watches``)."""
    return [
        {
            "channel_id": w.channel_id,
            "every": describe_every(w.every),
            "group": w.group,
            "added_at": w.added_at.isoformat(),
            "last_tick_at": w.last_tick_at.isoformat() if w.last_tick_at else None,
        }
        for w in listed
    ]


async def renew_subscriptions(
    borrow: Callable[[], AbstractContextManager[Warehouse]],
    *,
    hub_url: str,
    public_url: str,
    now: datetime,
    lease_seconds: int = websub.DEFAULT_LEASE_SECONDS,
) -> list[str]:
    """Ask the hub for a push subscription of every watched channel whose lease is missing or
    ends soon; returns the channels asked for. The hub then verifies each with the callback."""
    with borrow() as warehouse:
        due = []
        for watched in list_watches(warehouse):
            stored = get_subscription(warehouse, watched.channel_id)
            if stored is None or websub.due_for_renewal(stored.expires_at, now):
                secret = stored.secret if stored is not None else websub.new_secret()
                callback = f"{public_url.rstrip('/')}/websub/{watched.channel_id}"
                save_subscription(
                    warehouse, watched.channel_id, callback=callback, secret=secret, requested_at=now
                )
                due.append((watched.channel_id, callback, secret))
    if not due:  # the usual tick: no client (building one loads TLS certificates: ~0.1 s)
        return []
    async with httpx.AsyncClient(timeout=30) as client:
        for channel_id, callback, secret in due:
            request = websub.SubscriptionRequest(
                websub.topic_for(channel_id), callback, secret, lease_seconds=lease_seconds
            )
            await websub.request_subscription(client, hub_url, request)
    return [channel_id for channel_id, _, _ in due]
