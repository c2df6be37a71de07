"""The YouTube Data API v3 client: typed results, quota planning and budget, key rotation, rate
limit, retries and a circuit breaker. Start with :class:`YouTubeClient`."""

from tubescope.youtube.classify import Action, Verdict, classify_response
from tubescope.youtube.client import ClientOptions, YouTubeClient
from tubescope.youtube.errors import RepeatedPageToken, ResourceUnavailable
from tubescope.youtube.keys import KeyPool
from tubescope.youtube.quota import COST, CrawlCost, Method, QuotaLedger, QuotaPlanner

__all__ = [
    "COST",
    "Action",
    "ClientOptions",
    "CrawlCost",
    "KeyPool",
    "Method",
    "QuotaLedger",
    "QuotaPlanner",
    "RepeatedPageToken",
    "ResourceUnavailable",
    "Verdict",
    "YouTubeClient",
    "classify_response",
]
