"""Each cache tier on its own: a real Redis that is down, the disk tier, and
the in-process tier's bookkeeping. A failing tier is a counted miss, never an error or a stale value."""

from __future__ import annotations

from pathlib import Path

import redis as redis_lib

from tubescope.cache.generations import LocalGenerations
from tubescope.cache.tiers import DiskTier, MemoryTier, RedisTier
from tubescope.servers import free_port


def test_a_redis_tier_whose_server_is_down_counts_errors_and_answers_nothing() -> None:
    client = redis_lib.Redis(port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2)
    tier = RedisTier(client, ttl_seconds=60)
    tier.set("k", b"value")  # a failed store costs only a later recomputation
    assert tier.get("k") is None
    stats = tier.stats()
    assert (stats.tier, stats.hits, stats.misses, stats.errors, stats.bytes) == ("redis", 0, 0, 2, 0)
    tier.close()


def test_a_redis_tier_counts_hits_and_misses(redis_url: str) -> None:
    tier = RedisTier(redis_lib.Redis.from_url(redis_url), ttl_seconds=60, prefix="tiers-test:")
    assert tier.get("absent") is None
    tier.set("present", b"12345")
    assert tier.get("present") == b"12345"
    stats = tier.stats()
    assert (stats.hits, stats.misses, stats.errors) == (1, 1, 0) and stats.bytes >= 5


def test_a_disk_tier_counts_hits_and_misses_and_reports_what_it_holds(tmp_path: Path) -> None:
    tier = DiskTier(tmp_path / "disk", ttl_seconds=60)
    assert tier.get("absent") is None
    tier.set("k", b"value" * 100)
    assert tier.get("k") == b"value" * 100
    stats = tier.stats()
    assert (stats.tier, stats.hits, stats.misses, stats.errors) == ("disk", 1, 1, 0)
    assert stats.bytes > 0
    tier.close()


def test_the_memory_tier_evicts_the_least_recently_used_and_expires_by_age() -> None:
    now = [1000.0]
    tier: MemoryTier[str] = MemoryTier(10, max_entries=2, clock=lambda: now[0])
    tier.set("a", "A", size=3)
    tier.set("b", "B", size=4)
    assert tier.get("a") == "A"  # "a" is now the most recently used
    tier.set("c", "C", size=5)
    assert "b" not in tier and "a" in tier and len(tier) == 2
    now[0] += 11
    value, found, fresh = tier.lookup("a", record=False)
    assert (value, found, fresh) == ("A", True, False)  # expired: found, but never served as fresh
    assert tier.get("a") is None
    tier.record_hit()
    stats = tier.stats()
    assert stats.hits == 2 and stats.misses == 1


def test_local_generations_change_only_the_bumped_channels() -> None:
    tokens = LocalGenerations()
    a, b = tokens.current("UCa"), tokens.current("UCb")
    assert tokens.current("UCa") == a and a != b
    tokens.bump(["UCa"])
    assert tokens.current("UCa") != a and tokens.current("UCb") == b
