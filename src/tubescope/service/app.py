"""The FastAPI application: ``create_app(settings)`` builds one service instance."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from tubescope import __version__
from tubescope.config import Settings
from tubescope.jobs.background import CollectionJob, JobManager
from tubescope.jobs.catalog import WarehousePool
from tubescope.jobs.tokens import TokenStore, token_store_for
from tubescope.service.cache import AnalysisCache
from tubescope.service.errors import install_error_handlers
from tubescope.service.metrics import ServiceMetrics
from tubescope.service.ratelimit import TokenBucketLimiter
from tubescope.service.routers import channels, dashboard, health, jobs, predictions, reports
from tubescope.service.state import ServiceOptions, ServiceState


def default_options(settings: Settings) -> ServiceOptions:
    """The service's options for ``settings``: its warehouse and the token file beside it."""
    return ServiceOptions(db_path=settings.db_path, token_file=token_store_for(settings.db_path).path)


def create_app(settings: Settings, options: ServiceOptions | None = None) -> FastAPI:
    """A service over the warehouse named by ``settings.db_path`` (opened when the app starts)."""
    opts = options or default_options(settings)
    metrics = ServiceMetrics()
    holder: dict[str, ServiceState] = {}

    def finished(job: CollectionJob) -> None:
        state = holder.get("state")
        if state is not None and job.result is not None:
            state.data_changed(job.result.get("channels", []))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = WarehousePool(opts.db_path)
        manager = JobManager(opts.db_path, settings, on_finished=finished, on_quota=metrics.quota_spent.inc)
        state = ServiceState(
            options=opts,
            settings=settings,
            pool=pool,
            tokens=TokenStore(opts.token_file),
            limiter=TokenBucketLimiter(opts.rate_per_second, opts.rate_burst),
            cache=AnalysisCache(opts.cache_ttl_seconds),
            metrics=metrics,
            jobs=manager,
        )
        holder["state"] = state
        app.state.tubescope = state
        try:
            yield
        finally:
            manager.shutdown()
            pool.close()

    app = FastAPI(
        title="tubescope",
        version=__version__,
        description=(
            "YouTube channel analytics over a tubescope warehouse. Derived metrics are labelled as such."
        ),
        lifespan=lifespan,
    )
    install_error_handlers(app)

    @app.middleware("http")
    async def observe_latency(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics.request_latency.labels(request.method, template, f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        return response

    for router in (
        health.router,
        channels.router,
        jobs.router,
        predictions.router,
        reports.router,
        dashboard.router,
    ):
        app.include_router(router)
    return app
