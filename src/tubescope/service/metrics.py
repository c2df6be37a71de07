"""Prometheus metrics of one service instance (its own registry, so tests can run several).

Names follow Prometheus conventions: the unit is a suffix (``_seconds``, ``_bytes``, ``_units``),
counters end in ``_total``, timestamps are ``_timestamp_seconds``. Besides the process collector
(``process_cpu_seconds_total``, ``process_resident_memory_bytes``, ``process_open_fds``...) the
service exposes:

- ``tubescope_build_info``: version and Python of the running build;
- ``tubescope_http_request_duration_seconds``: latency by method, route template and status class;
- ``tubescope_jobs``, ``tubescope_job_queue_depth`` and ``tubescope_job_duration_seconds``: jobs by
  state, jobs waiting, and how long finished jobs took by kind and outcome. With Redis the workers
  run the jobs: the durations are then the cluster's shared histogram read from Redis, the same
  on every replica (aggregate replicas with ``max``, not ``sum``);
- ``tubescope_cache_hits_total`` and ``tubescope_cache_misses_total`` (analysis answers), and per
  cache tier ``tubescope_cache_tier_hits_total``, ``..._misses_total``, ``..._errors_total`` and
  ``tubescope_cache_tier_bytes``;
- ``tubescope_channel_last_collection_timestamp_seconds``: the last successful collection of each
  channel in the warehouse;
- ``tubescope_quota_remaining_units`` and ``tubescope_quota_limit_units`` per API key fingerprint
  and quota bucket, and ``tubescope_quota_units_spent_total`` (with Redis: the units every
  worker's jobs spent, the same on every replica, read from Redis);
- ``tubescope_rate_limited_total``: requests refused with 429.

Other parts feed it through :meth:`ServiceMetrics.observe_job` (or
:meth:`~ServiceMetrics.set_job_durations`), :meth:`~ServiceMetrics.set_queue_depth` and
:meth:`~ServiceMetrics.watch_cache`; the ``/metrics`` route refreshes the gauges read from the
jobs, the warehouse and the quota tracker just before rendering.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from tubescope import __version__
from tubescope.cache import TieredCache
from tubescope.jobs.queue import JOB_DURATION_BUCKETS, DurationTally

JOB_DURATION_HELP = "Duration of finished jobs by kind and outcome (completed, failed, cancelled)."
QUOTA_SPENT_HELP = "YouTube Data API quota units spent by jobs."


class CacheTierCollector:
    """Reads each cache tier's counters when /metrics is scraped: hits, misses, errors, bytes."""

    def __init__(self, cache: TieredCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Any]:
        """The metric families, one sample per tier."""
        hits = CounterMetricFamily("tubescope_cache_tier_hits", "Cache hits by tier.", labels=["tier"])
        misses = CounterMetricFamily("tubescope_cache_tier_misses", "Cache misses by tier.", labels=["tier"])
        errors = CounterMetricFamily(
            "tubescope_cache_tier_errors", "Cache tier failures answered as misses.", labels=["tier"]
        )
        held = GaugeMetricFamily(
            "tubescope_cache_tier_bytes",
            "Bytes each cache tier holds (Redis: all replicas together; memory: encoded entries).",
            labels=["tier"],
        )
        for stats in self.cache.stats():
            hits.add_metric([stats.tier], stats.hits)
            misses.add_metric([stats.tier], stats.misses)
            errors.add_metric([stats.tier], stats.errors)
            held.add_metric([stats.tier], stats.bytes)
        yield from (hits, misses, errors, held)


class SharedJobDurations:
    """``tubescope_job_duration_seconds`` from the tallies the workers keep in Redis (set before
    each scrape by :meth:`ServiceMetrics.set_job_durations`)."""

    def __init__(self) -> None:
        self.tallies: Mapping[tuple[str, str], DurationTally] = {}

    def collect(self) -> Iterator[Any]:
        """One histogram family, a series per (kind, outcome)."""
        family = HistogramMetricFamily(
            "tubescope_job_duration_seconds", JOB_DURATION_HELP, labels=["kind", "outcome"]
        )
        for (kind, outcome), tally in sorted(self.tallies.items()):
            bounds = zip(JOB_DURATION_BUCKETS, tally.at_most, strict=True)
            buckets = [(str(float(b)), n) for b, n in bounds]  # "1.0", as Histogram writes le
            family.add_metric(
                [kind, outcome], [*buckets, ("+Inf", tally.count)], sum_value=tally.total_seconds
            )
        yield family


class SharedQuotaSpent:
    """``tubescope_quota_units_spent_total`` from the count the workers keep in Redis (set before
    each scrape by :meth:`ServiceMetrics.set_quota_spent`)."""

    def __init__(self) -> None:
        self.units = 0

    def collect(self) -> Iterator[Any]:
        """One counter family with the workers' units."""
        family = CounterMetricFamily("tubescope_quota_units_spent", QUOTA_SPENT_HELP)
        family.add_metric([], self.units)
        yield family


class ServiceMetrics:
    """The service's metrics on a registry of its own. ``shared_jobs``: the jobs run on workers
    elsewhere (Redis), so their durations come from :meth:`set_job_durations`, not from
    :meth:`observe_job`."""

    def __init__(self, *, shared_jobs: bool = False) -> None:
        self.registry = CollectorRegistry()
        self._cache_collector: CacheTierCollector | None = None
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.build_info = Info("tubescope_build", "The running tubescope build.", registry=self.registry)
        self.build_info.info({"version": __version__, "python": platform.python_version()})
        self.request_latency = Histogram(
            "tubescope_http_request_duration_seconds",
            "HTTP request latency by route template and status class.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.quota_spent: Counter | None = None
        self.shared_quota_spent: SharedQuotaSpent | None = None
        if shared_jobs:
            self.shared_quota_spent = SharedQuotaSpent()
            self.registry.register(self.shared_quota_spent)
        else:
            self.quota_spent = Counter(
                "tubescope_quota_units_spent_total", QUOTA_SPENT_HELP, registry=self.registry
            )
        self.quota_remaining = Gauge(
            "tubescope_quota_remaining_units",
            "YouTube Data API quota units left today (US Pacific day) per key fingerprint and bucket.",
            ["key", "bucket"],
            registry=self.registry,
        )
        self.quota_limit = Gauge(
            "tubescope_quota_limit_units",
            "YouTube Data API daily quota units per key fingerprint and bucket.",
            ["key", "bucket"],
            registry=self.registry,
        )
        self.jobs = Gauge("tubescope_jobs", "Jobs by state.", ["state"], registry=self.registry)
        self.job_queue_depth = Gauge(
            "tubescope_job_queue_depth",
            "Jobs accepted and waiting to run.",
            ["queue"],
            registry=self.registry,
        )
        self.job_duration: Histogram | None = None
        self.shared_job_durations: SharedJobDurations | None = None
        if shared_jobs:
            self.shared_job_durations = SharedJobDurations()
            self.registry.register(self.shared_job_durations)
        else:
            self.job_duration = Histogram(
                "tubescope_job_duration_seconds",
                JOB_DURATION_HELP,
                ["kind", "outcome"],
                registry=self.registry,
                buckets=JOB_DURATION_BUCKETS,
            )
        self.cache_hits = Counter(
            "tubescope_cache_hits_total", "Analysis answers served from a cache tier.", registry=self.registry
        )
        self.cache_misses = Counter(
            "tubescope_cache_misses_total", "Analysis answers computed afresh.", registry=self.registry
        )
        self.rate_limited = Counter(
            "tubescope_rate_limited_total", "Requests refused with 429.", registry=self.registry
        )
        self.last_collection = Gauge(
            "tubescope_channel_last_collection_timestamp_seconds",
            "Unix time of each channel's last successful collection.",
            ["channel_id"],
            registry=self.registry,
        )

    def observe_job(self, kind: str, outcome: str, seconds: float) -> None:
        """A job of ``kind`` run by this process finished with ``outcome`` after ``seconds``."""
        if self.job_duration is not None:
            self.job_duration.labels(kind=kind, outcome=outcome).observe(max(0.0, seconds))

    def set_job_durations(self, tallies: Mapping[tuple[str, str], DurationTally]) -> None:
        """The workers' shared duration histogram, read from Redis just before a scrape."""
        if self.shared_job_durations is not None:
            self.shared_job_durations.tallies = dict(tallies)

    def count_quota_spent(self, units: int) -> None:
        """``units`` spent by a job this process ran (without Redis)."""
        if self.quota_spent is not None:
            self.quota_spent.inc(units)

    def set_quota_spent(self, units: int) -> None:
        """The units all workers' jobs spent, read from Redis just before a scrape."""
        if self.shared_quota_spent is not None:
            self.shared_quota_spent.units = units

    def set_queue_depth(self, depth: int, queue: str = "default") -> None:
        """How many jobs wait in ``queue`` now."""
        self.job_queue_depth.labels(queue=queue).set(depth)

    def set_job_counts(self, counts: Mapping[str, int]) -> None:
        """Jobs per state, as the job runner knows them."""
        for state, count in counts.items():
            self.jobs.labels(state=state).set(count)

    def watch_cache(self, cache: TieredCache) -> None:
        """Export ``cache``'s per-tier hits, misses, errors and bytes (replacing an earlier cache's)."""
        if self._cache_collector is not None:
            self.registry.unregister(self._cache_collector)
        self._cache_collector = CacheTierCollector(cache)
        self.registry.register(self._cache_collector)

    def set_last_collections(self, last: Mapping[str, datetime]) -> None:
        """Each channel's last successful collection (replaces the previous set)."""
        self.last_collection.clear()
        for channel_id, at in last.items():
            self.last_collection.labels(channel_id=channel_id).set(at.timestamp())

    def set_quota(self, remaining: Mapping[tuple[str, str], int], daily_units: int) -> None:
        """Quota left per (key fingerprint, bucket) out of ``daily_units`` a day."""
        self.quota_remaining.clear()
        self.quota_limit.clear()
        for (key, bucket), units in remaining.items():
            self.quota_remaining.labels(key=key, bucket=bucket).set(units)
            self.quota_limit.labels(key=key, bucket=bucket).set(daily_units)

    def render(self) -> bytes:
        """The registry in Prometheus' text exposition format."""
        return bytes(generate_latest(self.registry))
