"""What one running service holds, and the FastAPI dependencies that hand it to routes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request

from tubescope.config import Settings
from tubescope.jobs.catalog import ServicePool
from tubescope.jobs.common import load_channel_frames
from tubescope.jobs.predict import Predictor
from tubescope.jobs.queue import JobQueue
from tubescope.jobs.quota import QuotaSource
from tubescope.jobs.tokens import Scope, TokenInfo, TokenStore
from tubescope.service.cache import FLEET, TieredCache
from tubescope.service.metrics import ServiceMetrics
from tubescope.service.ratelimit import RateLimiter
from tubescope.service.security import AuthFailureGuard
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import WarehouseTarget

if TYPE_CHECKING:
    from tubescope.service.warming import CacheWarmer


@dataclass(frozen=True)
class ServiceOptions:
    """Options the service starts with."""

    db_path: WarehouseTarget
    token_file: Path | None = None
    """A JSON token file from an older tubescope, imported into the warehouse on first use."""
    rate_per_second: float = 50.0
    rate_burst: int = 100
    public_metrics: bool = True
    """False: /metrics needs an admin token (TUBESCOPE_PUBLIC_METRICS=false)."""
    public_docs: bool = True
    """False: /docs and /openapi.json need a read token or the dashboard's sign-in."""
    auth_failures_per_second: float = 1.0
    auth_failure_burst: int = 20
    """Failed authentications a client address may make at once before it is answered 429."""
    clock: Callable[[], datetime] | None = None
    """The time the watch scheduler ticks at (None: the wall clock). ``tubescope demo`` passes the
    emulator's clock, so an emulated month of scheduled ticks runs in seconds."""
    watch_tick_seconds: float | None = None
    """Real seconds between the watch scheduler's ticks (None: the ``watch_tick_seconds`` setting,
    at least 1 s); the demo ticks many times per real second against its fast emulated clock."""


@dataclass
class ServiceState:
    """What every request shares: the settings, warehouse pool, tokens, cache, metrics and jobs."""

    options: ServiceOptions
    settings: Settings
    pool: ServicePool
    tokens: TokenStore
    limiter: RateLimiter
    cache: TieredCache
    metrics: ServiceMetrics
    jobs: JobQueue
    """Arq in Redis with ``redis_url`` (any replica sees every job), else this process's thread."""
    quota: QuotaSource
    auth_guard: AuthFailureGuard = field(default_factory=AuthFailureGuard)
    started_at: float = field(default_factory=time.time)
    warmer: CacheWarmer | None = None
    """Computes each channel's answers ahead of requests (:mod:`tubescope.service.warming`)."""
    last_watch_tick: datetime | None = None
    """When (on the service's clock) this replica's scheduler last finished a watch tick."""
    watch_tick_in_flight: asyncio.Future[list[str]] | None = None
    """The scheduler's latest watch tick (awaited at shutdown before the pool closes)."""
    _predictor: Predictor | None = None
    _predictor_lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        """The service's current time: the wall clock, or the clock the options name."""
        return self.options.clock() if self.options.clock is not None else datetime.now(UTC)

    def predictor(self) -> Predictor:
        """The latest model with channel priors from the warehouse, loaded once per data change."""
        with self._predictor_lock:
            if self._predictor is None:
                loaded = Predictor.load(self.settings.model_dir)
                with self.pool.borrow() as warehouse:
                    frames = load_channel_frames(warehouse)
                self._predictor = Predictor(loaded.forecaster.with_history(frames), loaded.manifest)
            return self._predictor

    def data_changed(self, channel_ids: Iterable[str]) -> None:
        """A run landed: every cache tier of every replica forgets what came from the old data."""
        changed = list(channel_ids)
        self.cache.invalidate([*changed, FLEET])
        with self._predictor_lock:
            self._predictor = None
        if self.warmer is not None:
            self.warmer.request(changed)


# The dependencies below are ``async`` though they never await: FastAPI runs a plain ``def``
# dependency in the thread pool, and three thread hops per request cost more than the work.
async def get_state(request: Request) -> ServiceState:
    """The service state of the request's app."""
    state: ServiceState = request.app.state.tubescope
    return state


State = Annotated[ServiceState, Depends(get_state)]


async def get_warehouse(state: State) -> AsyncIterator[Warehouse]:
    """A warehouse borrowed from the pool for the request."""
    with state.pool.borrow() as warehouse:  # a cursor: opening and closing it does no IO
        yield warehouse


WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]


MISSING_TOKEN = "missing API token: send the header 'Authorization: Bearer <token>'"  # noqa: S105 -- a message
DASHBOARD_COOKIE = "tubescope_token"


def client_address(request: Request) -> str:
    """The peer address failed authentication is counted against."""
    return request.client.host if request.client else "unknown"


async def authenticate(
    request: Request, state: ServiceState, scope: Scope, *, allow_cookie: bool = False
) -> TokenInfo:
    """The token of ``request`` if its scope covers ``scope``; else 401, 403 or 429.

    Failed attempts are rate-limited per client address *before* a token is checked, so guessing
    tokens is answered 429 once an address has used its burst of failures.
    """
    client = client_address(request)
    blocked = state.auth_guard.wait(client)
    if blocked > 0:
        state.metrics.rate_limited.inc()
        raise HTTPException(
            429,
            "too many failed authentications from this address",
            headers={"Retry-After": state.auth_guard.retry_after_header(blocked)},
        )
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    presented = token.strip() if kind.lower() == "bearer" else ""
    if not presented and allow_cookie:
        presented = request.cookies.get(DASHBOARD_COOKIE, "").strip()
    if not presented:
        state.auth_guard.failed(client)
        raise HTTPException(401, MISSING_TOKEN, headers={"WWW-Authenticate": "Bearer"})
    info = state.tokens.verify(presented)
    if info is None:
        state.auth_guard.failed(client)
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    request.state.token_id = info.token_id  # the access log names the token by its id, never itself
    if not info.scope.allows(scope):
        raise HTTPException(403, f"this token's scope '{info.scope.value}' does not allow '{scope.value}'")
    wait = await state.limiter.wait(info.token_id)
    if wait > 0:
        state.metrics.rate_limited.inc()
        raise HTTPException(
            429, "rate limit exceeded", headers={"Retry-After": state.limiter.retry_after_header(wait)}
        )
    return info


def require(scope: Scope) -> Callable[[Request, ServiceState], Awaitable[TokenInfo]]:
    """A dependency admitting bearer tokens whose scope covers ``scope``, rate-limited per token."""

    async def dependency(request: Request, state: State) -> TokenInfo:
        return await authenticate(request, state, scope)

    return dependency


ReadToken = Annotated[TokenInfo, Depends(require(Scope.READ))]
WriteToken = Annotated[TokenInfo, Depends(require(Scope.WRITE))]
AdminToken = Annotated[TokenInfo, Depends(require(Scope.ADMIN))]
