"""The FastAPI application: ``create_app(settings)`` builds one service instance."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tubescope import __version__
from tubescope.config import Settings
from tubescope.jobs.background import CollectionJob, JobManager, LocalJobs, is_collect
from tubescope.jobs.cache import open_settings_cache, redis_client
from tubescope.jobs.catalog import open_pool
from tubescope.jobs.queue import JobQueue, RedisJobs
from tubescope.jobs.quota import QuotaSource, QuotaTracker, SharedQuotaView
from tubescope.jobs.tokens import Scope as TokenScope
from tubescope.jobs.tokens import TokenStore, legacy_token_file
from tubescope.logging import key_fingerprint
from tubescope.service.errors import API_ERROR_RESPONSES, error_responses, install_error_handlers
from tubescope.service.metrics import ServiceMetrics
from tubescope.service.ratelimit import RateLimiter, SharedRateLimiter, TokenBucketLimiter
from tubescope.service.routers import (
    alerts,
    channels,
    dashboard,
    health,
    jobs,
    predictions,
    reports,
    watches,
    websub,
)
from tubescope.service.security import AuthFailureGuard, SecurityHeaders
from tubescope.service.state import ServiceOptions, ServiceState, State, authenticate
from tubescope.service.warming import CacheWarmer
from tubescope.service.watching import stop_watch_scheduler, tick_when_clock_moves, watch_scheduler
from tubescope.youtube.shared_quota import RedisQuotaLedger

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
_QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics"})
"""Probes and scrapes: logged at debug level, so access logs at info show what people did."""

_access_log = structlog.get_logger("tubescope.access")


def request_id_from(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token (at most 128 safe characters), else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            given = bytes(value).decode("latin-1").strip()
            if _REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class ObservabilityMiddleware:
    """Per request: an id bound to every log line it causes and echoed as ``X-Request-ID``, a JSON
    access log line (route template, status, duration, token id) and the latency histogram.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware adds a
    task and a stream per request, a measurable share of a cache hit's cost.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Give the request an id, time it, log it and count it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = request_id_from(scope)
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def observe_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, observe_status)
            finally:
                elapsed = time.perf_counter() - started
                template = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.request_latency.labels(scope["method"], template, f"{status // 100}xx").observe(
                    elapsed
                )
                log = _access_log.debug if template in _QUIET_ROUTES else _access_log.info
                log(
                    "http.request",
                    method=scope["method"],
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 3),
                    token_id=scope.get("state", {}).get("token_id"),
                )


DOCS_ASSETS = "/docs-assets"


def _docs(app: FastAPI, *, protected: bool) -> None:
    """``/docs`` with Swagger UI served from this process (the ``swagger-ui-bundle-v2`` package),
    so the API docs work on a machine with no internet access; behind a read token or the
    dashboard's sign-in cookie unless the docs are public."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request, state: State) -> HTMLResponse:
        if protected:
            await authenticate(request, state, TokenScope.READ, allow_cookie=True)
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - API docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url="/favicon.ico",
        )


def default_options(settings: Settings) -> ServiceOptions:
    """The service's options for ``settings``: its warehouse (a DuckDB file or PostgreSQL) and
    the legacy token file an older tubescope kept beside a DuckDB one (imported on first use)."""
    target = settings.warehouse_target
    return ServiceOptions(
        db_path=target,
        token_file=legacy_token_file(target),
        rate_per_second=settings.api_rate_per_second,
        rate_burst=settings.api_rate_burst,
        public_metrics=settings.public_metrics,
        public_docs=settings.public_docs,
    )


def _protected_openapi(app: FastAPI) -> None:
    """/openapi.json behind a read token or the dashboard's sign-in cookie."""

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request, state: State) -> JSONResponse:
        await authenticate(request, state, TokenScope.READ, allow_cookie=True)
        return JSONResponse(app.openapi())


def create_app(settings: Settings, options: ServiceOptions | None = None) -> FastAPI:
    """A service over the warehouse ``settings`` name (opened when the app starts)."""
    opts = options or default_options(settings)
    metrics = ServiceMetrics(shared_jobs=bool(settings.redis_url))
    holder: dict[str, ServiceState] = {}

    fingerprints = [key_fingerprint(k.get_secret_value()) for k in settings.api_keys]

    def finished(job: CollectionJob) -> None:
        if job.duration_seconds is not None:
            metrics.observe_job(job.spec.kind.value, job.state.value, job.duration_seconds)
        state = holder.get("state")
        if state is not None and job.result is not None and is_collect(job):
            state.data_changed(job.result.get("channels", []))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def changed_elsewhere(channel_ids: list[str]) -> None:
            state = holder.get("state")
            if state is not None:
                state.data_changed(channel_ids)

        pool = open_pool(opts.db_path, on_change=changed_elsewhere)
        client = redis_client(settings)
        cache = open_settings_cache(settings, client)
        metrics.watch_cache(cache)
        limiter: RateLimiter = (
            SharedRateLimiter(
                settings.redis_url, opts.rate_per_second, opts.rate_burst, prefix=settings.redis_prefix
            )
            if settings.redis_url
            else TokenBucketLimiter(opts.rate_per_second, opts.rate_burst)
        )
        job_queue: JobQueue
        quota: QuotaSource
        shared_quota: SharedQuotaView | None = None
        if settings.redis_url:  # durable: `tubescope worker` processes run them
            job_queue = await RedisJobs.connect(settings.redis_url, settings.redis_prefix)
            ledger = RedisQuotaLedger.from_url(
                settings.redis_url, settings.key_daily_quota, settings.redis_prefix
            )
            quota = shared_quota = SharedQuotaView(ledger, fingerprints)
        else:
            tracker = QuotaTracker(fingerprints, settings.key_daily_quota)
            quota = tracker
            job_queue = LocalJobs(
                JobManager(
                    opts.db_path,
                    settings,
                    on_finished=finished,
                    on_quota=metrics.count_quota_spent,
                    on_quota_usage=tracker.record,
                )
            )
        state = ServiceState(
            options=opts,
            settings=settings,
            pool=pool,
            tokens=TokenStore(pool.borrow, opts.token_file),
            limiter=limiter,
            cache=cache,
            auth_guard=AuthFailureGuard(opts.auth_failures_per_second, opts.auth_failure_burst),
            metrics=metrics,
            jobs=job_queue,
            quota=quota,
        )
        holder["state"] = state
        app.state.tubescope = state
        if settings.cache_warming != "off":
            state.warmer = CacheWarmer(state, analyses=settings.cache_warming == "all")
            state.warmer.start()
        scheduler = watch_scheduler(state)
        scheduler.start()
        stop_following = tick_when_clock_moves(state, scheduler)
        try:
            yield
        finally:
            if stop_following is not None:
                stop_following()
            await stop_watch_scheduler(state, scheduler)
            if state.warmer is not None:
                state.warmer.close()
            await job_queue.aclose()
            if shared_quota is not None:
                await shared_quota.aclose()
            pool.close()
            cache.close()
            if client is not None:
                client.close()

    app = FastAPI(
        title="tubescope",
        version=__version__,
        description=(
            "YouTube channel analytics over a tubescope warehouse. Derived metrics are labelled as such."
        ),
        lifespan=lifespan,
        docs_url=None,  # served by _docs: Swagger UI from this process, signed in unless public
        redoc_url=None,
        openapi_url="/openapi.json" if opts.public_docs else None,
    )
    install_error_handlers(app)

    app.add_middleware(SecurityHeaders)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    _docs(app, protected=not opts.public_docs)
    if not opts.public_docs:
        _protected_openapi(app)

    app.include_router(health.router, responses=error_responses(401, 403, 405, 429))
    for router in (
        channels.router,
        jobs.router,
        predictions.router,
        reports.router,
        watches.router,
        alerts.router,
    ):
        app.include_router(router, responses=API_ERROR_RESPONSES)
    app.include_router(websub.router)  # the hub's callbacks declare their own plain-text answers
    app.include_router(dashboard.router)
    return app
