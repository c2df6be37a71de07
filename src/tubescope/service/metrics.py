"""Prometheus metrics of one service instance (its own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
