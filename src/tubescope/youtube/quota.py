"""Quota: what each call costs, what a crawl will cost, and the budget that stops a run in time.

Every request the client sends is charged here *before* it goes out: a rejected request still
costs quota, and charging first is what lets :meth:`QuotaLedger.reserve` refuse a request that
would exceed ``--budget`` before it is spent, so the caller can checkpoint and stop cleanly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from tubescope.domain.refs import ChannelRef
from tubescope.errors import BudgetExceeded

PAGE_SIZE = 50
"""Most ids per videos.list / channels.list call and most items per playlistItems.list page."""

DOCUMENTED_REQUESTS_PER_SECOND = 180_000 / 60
"""The Data API's default rate quota, "queries per minute per user" (180,000 in the Cloud console's
quota table, 1,800,000 per project), as requests per second: 3,000. The daily units bind long
before it; a lower ``--rate``/``TUBESCOPE_REQUESTS_PER_SECOND`` is a courtesy, not a necessity."""


class Method(StrEnum):
    """A YouTube Data API method that costs quota."""

    CHANNELS_LIST = "channels.list"
    PLAYLIST_ITEMS_LIST = "playlistItems.list"
    VIDEOS_LIST = "videos.list"
    VIDEOS_BATCH_GET_STATS = "videos.batchGetStats"
    COMMENT_THREADS_LIST = "commentThreads.list"
    COMMENTS_LIST = "comments.list"
    SEARCH_LIST = "search.list"


COST: dict[Method, int] = {
    Method.CHANNELS_LIST: 1,
    Method.PLAYLIST_ITEMS_LIST: 1,
    Method.VIDEOS_LIST: 1,
    Method.VIDEOS_BATCH_GET_STATS: 1,
    Method.COMMENT_THREADS_LIST: 1,
    Method.COMMENTS_LIST: 1,
    Method.SEARCH_LIST: 100,
}


BUCKET: dict[Method, str] = {
    Method.SEARCH_LIST: "search.list",
    Method.VIDEOS_BATCH_GET_STATS: "videos.batchGetStats",
}
"""Methods with a daily quota bucket of their own (2026-06 revision); the rest share ``default``."""


def bucket_of(method: Method) -> str:
    """The quota bucket that ``method`` is charged to."""
    return BUCKET.get(method, "default")


def pages(n_items: int, page_size: int = PAGE_SIZE) -> int:
    """The number of pages needed for ``n_items`` items."""
    return math.ceil(max(0, n_items) / page_size)


@dataclass(frozen=True, slots=True)
class CrawlCost:
    """Units per method for a planned crawl; ``total`` is what the quota ledger will show."""

    resolve: int
    channels: int
    playlist_pages: int
    videos: int

    @property
    def total(self) -> int:
        """All units of the crawl."""
        return self.resolve + self.channels + self.playlist_pages + self.videos


class QuotaPlanner:
    """Exact cost of the crawls the collect pipeline runs, before any request is sent.

    The plans assume the cheapest complete crawl: one ``channels.list`` (which also names the
    uploads playlist), the uploads playlist paged 50 at a time, and ``videos.list`` 50 ids at a time.
    """

    def resolve_cost(self, ref: ChannelRef | None) -> int:
        """The units to resolve ``ref`` to a channel id (0 when None)."""
        return 0 if ref is None else ref.resolve_cost

    def fresh_crawl(self, n_uploads: int, ref: ChannelRef | None = None) -> CrawlCost:
        """1 + 2·ceil(N/50) (+ what resolving ``ref`` costs: 1 for a handle, 0 for a UC id).

        An empty uploads playlist still takes one playlistItems.list call to learn it is empty.
        """
        return CrawlCost(
            resolve=self.resolve_cost(ref),
            channels=COST[Method.CHANNELS_LIST],
            playlist_pages=max(1, pages(n_uploads)),
            videos=pages(n_uploads),
        )

    def incremental_crawl(self, n_new: int, n_total: int, ref: ChannelRef | None = None) -> CrawlCost:
        """A re-run that finds ``n_new`` new uploads among ``n_total`` and refreshes all of them.

        The uploads playlist lists newest first, so paging stops on the page holding the first
        known video: ceil((k+1)/50) pages. Stats for all N videos cost ceil(N/50). The total is at
        most 2 + ceil(k/50) + ceil(N/50).
        """
        if n_new > n_total:
            raise ValueError(f"n_new ({n_new}) cannot exceed n_total ({n_total})")
        if n_new == n_total:
            return self.fresh_crawl(n_total, ref)
        return CrawlCost(
            resolve=self.resolve_cost(ref),
            channels=COST[Method.CHANNELS_LIST],
            playlist_pages=pages(n_new + 1),
            videos=pages(n_total),
        )

    @staticmethod
    def incremental_upper_bound(n_new: int, n_total: int) -> int:
        """The most units an incremental crawl of ``n_new`` new videos out of ``n_total`` can cost."""
        return 2 + pages(n_new) + pages(n_total)

    @staticmethod
    def stats_refresh(n_videos: int) -> int:
        """Refreshing the statistics of known videos: ceil(N/50)."""
        return pages(n_videos)

    @staticmethod
    def comments(n_videos_with_comments: int, extra_pages: int = 0) -> int:
        """At least one commentThreads.list call per video, plus every further page."""
        return n_videos_with_comments * COST[Method.COMMENT_THREADS_LIST] + extra_pages


class QuotaLedger:
    """Units charged in this run, in total and per key fingerprint, under an optional budget."""

    def __init__(self, budget_units: int | None = None) -> None:
        if budget_units is not None and budget_units < 0:
            raise ValueError("budget_units must be >= 0")
        self.budget_units = budget_units
        self._by_key: dict[str, int] = {}
        self._by_method: dict[str, int] = {}
        self._by_key_bucket: dict[tuple[str, str], int] = {}
        self.spent = 0

    @property
    def remaining(self) -> int | None:
        """Units left in the budget, or None without a budget."""
        return None if self.budget_units is None else self.budget_units - self.spent

    def ensure_affordable(self, method: Method, times: int = 1) -> None:
        """Raise BudgetExceeded if ``times`` more calls of ``method`` would exceed the budget."""
        cost = COST[method] * times
        if self.budget_units is not None and self.spent + cost > self.budget_units:
            raise BudgetExceeded(
                f"the run's budget of {self.budget_units} quota units would be exceeded: "
                f"{self.spent} spent, {method} needs {cost}; stopped at a checkpoint before sending it",
                reason="budgetExceeded",
            )

    def charge(self, method: Method, key_fingerprint: str) -> int:
        """Record one call of ``method`` sent with the key of ``key_fingerprint``; returns its cost."""
        cost = COST[method]
        self.spent += cost
        self._by_key[key_fingerprint] = self._by_key.get(key_fingerprint, 0) + cost
        self._by_method[method.value] = self._by_method.get(method.value, 0) + cost
        where = (key_fingerprint, bucket_of(method))
        self._by_key_bucket[where] = self._by_key_bucket.get(where, 0) + cost
        return cost

    def refund(self, method: Method, key_fingerprint: str) -> None:
        """Undo :meth:`charge` for a call that was never sent (cancelled while waiting for a slot)."""
        cost = COST[method]
        self.spent -= cost
        self._by_key[key_fingerprint] -= cost
        self._by_method[method.value] -= cost
        self._by_key_bucket[(key_fingerprint, bucket_of(method))] -= cost

    def reserve(self, method: Method, key_fingerprint: str) -> int:
        """Charge one call of ``method`` or raise BudgetExceeded without charging anything."""
        self.ensure_affordable(method)
        return self.charge(method, key_fingerprint)

    def by_key(self) -> dict[str, int]:
        """Units spent per key fingerprint (safe to store as lineage)."""
        return dict(self._by_key)

    def by_method(self) -> dict[str, int]:
        """Units spent per API method."""
        return dict(self._by_method)

    def by_key_bucket(self) -> dict[tuple[str, str], int]:
        """Units spent per (key fingerprint, daily quota bucket): what each key has used of each bucket."""
        return {where: units for where, units in self._by_key_bucket.items() if units}
