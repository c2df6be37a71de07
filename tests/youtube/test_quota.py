"""The quota planner's arithmetic, the budget ledger and the key pool, checked against hand counts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tubescope.domain.refs import parse_channel_ref
from tubescope.errors import BudgetExceeded, ConfigError, QuotaExhausted
from tubescope.logging import key_fingerprint
from tubescope.youtube.keys import KeyPool
from tubescope.youtube.quota import COST, Method, QuotaLedger, QuotaPlanner

planner = QuotaPlanner()
CID = "UC_x5XG1OV2P6uZZ5FSM9Ttw"


@pytest.mark.parametrize(
    ("uploads", "expected"),
    [(0, 2), (1, 3), (50, 3), (51, 5), (100, 5), (101, 7), (1234, 51)],
)
def test_fresh_crawl_costs_one_plus_two_pages_per_fifty_uploads(uploads: int, expected: int) -> None:
    assert planner.fresh_crawl(uploads).total == expected


def test_resolving_the_reference_adds_its_own_cost() -> None:
    assert planner.fresh_crawl(120, parse_channel_ref(CID)).total == 7
    assert planner.fresh_crawl(120, parse_channel_ref("@googledevelopers")).total == 8
    assert planner.fresh_crawl(120, parse_channel_ref("youtube.com/c/Google")).total == 107


@given(st.integers(0, 5000), st.integers(0, 5000))
def test_incremental_crawl_is_within_the_documented_bound(new: int, known: int) -> None:
    total = new + known
    if total == 0:
        return
    cost = planner.incremental_crawl(new, total).total
    assert cost <= QuotaPlanner.incremental_upper_bound(new, total)
    assert cost == 1 + max(1, math.ceil((new + 1) / 50) if known else math.ceil(new / 50)) + math.ceil(
        total / 50
    )


def test_incremental_with_nothing_new_reads_one_playlist_page() -> None:
    cost = planner.incremental_crawl(0, 480)
    assert (cost.channels, cost.playlist_pages, cost.videos) == (1, 1, 10)


def test_incremental_rejects_more_new_than_total() -> None:
    with pytest.raises(ValueError, match="cannot exceed"):
        planner.incremental_crawl(5, 4)


def test_search_costs_a_hundred_and_everything_else_one() -> None:
    assert COST[Method.SEARCH_LIST] == 100
    assert {cost for method, cost in COST.items() if method is not Method.SEARCH_LIST} == {1}


def test_ledger_refuses_before_charging_and_tracks_keys_and_methods() -> None:
    ledger = QuotaLedger(budget_units=101)
    ledger.reserve(Method.SEARCH_LIST, "key-a")
    ledger.reserve(Method.VIDEOS_LIST, "key-b")
    with pytest.raises(BudgetExceeded):
        ledger.reserve(Method.VIDEOS_LIST, "key-b")
    assert ledger.spent == 101 and ledger.remaining == 0
    assert ledger.by_key() == {"key-a": 100, "key-b": 1}
    assert ledger.by_method() == {"search.list": 100, "videos.list": 1}


def test_key_pool_rotates_then_reports_exhaustion_by_fingerprint() -> None:
    pool = KeyPool(["first-key-123", "second-key-456", "third-key-789"])
    assert pool.current() == "first-key-123"
    assert pool.mark_exhausted("second-key-456")  # not the current one: current stays
    assert pool.current() == "first-key-123"
    assert pool.mark_exhausted("first-key-123")
    assert pool.current() == "third-key-789"  # skips the exhausted second key
    assert not pool.mark_exhausted("third-key-789")
    with pytest.raises(QuotaExhausted) as caught:
        pool.current()
    assert key_fingerprint("third-key-789") in str(caught.value)
    assert "third-key-789" not in str(caught.value) and "third-key-789" not in repr(pool)


@pytest.mark.parametrize("keys", [[], ["  "], ["same-key-1", "same-key-1"]])
def test_key_pool_rejects_missing_or_duplicate_keys(keys: list[str]) -> None:
    with pytest.raises(ConfigError):
        KeyPool(keys)
