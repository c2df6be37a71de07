"""Prometheus metrics of one service instance (its own registry, so tests can run several)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from tubescope.cache import TieredCache


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


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._cache_collector: CacheTierCollector | None = None
        self.request_latency = Histogram(
            "tubescope_http_request_duration_seconds",
            "HTTP request latency by route template and status class.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.quota_spent = Counter(
            "tubescope_quota_units_spent_total",
            "YouTube Data API quota units spent by jobs.",
            registry=self.registry,
        )
        self.jobs = Gauge("tubescope_jobs", "Collection jobs by state.", ["state"], registry=self.registry)
        self.cache_hits = Counter(
            "tubescope_cache_hits_total", "Analysis cache hits.", registry=self.registry
        )
        self.cache_misses = Counter(
            "tubescope_cache_misses_total", "Analysis cache misses.", registry=self.registry
        )
        self.rate_limited = Counter(
            "tubescope_rate_limited_total", "Requests refused with 429.", registry=self.registry
        )

    def watch_cache(self, cache: TieredCache) -> None:
        """Export ``cache``'s per-tier hits, misses, errors and bytes (replacing an earlier cache's)."""
        if self._cache_collector is not None:
            self.registry.unregister(self._cache_collector)
        self._cache_collector = CacheTierCollector(cache)
        self.registry.register(self._cache_collector)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
