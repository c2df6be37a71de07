"""Each cache tier on its own: a real Redis that is down, the disk tier, and
the in-process tier's bookkeeping. A failing tier is a counted miss, never an error or a stale value."""

from __future__ import annotations

import time
from pathlib import Path

import redis as redis_lib

from tubescope.cache import TEXT, CacheOptions, DiskGenerations, TieredCache, open_cache
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


def test_an_entry_this_version_cannot_decode_is_a_counted_miss_then_recomputed(tmp_path: Path) -> None:
    generations = DiskGenerations(tmp_path / "generations")
    disk = DiskTier(tmp_path / "disk")
    cache = TieredCache(MemoryTier(60), [disk], generations)
    disk.set(f"v1:UC1:{generations.current('UC1')}:n", b"\xff\xfe not utf-8")  # an older or damaged entry
    assert cache.get_or_compute("UC1", "n", lambda: "fresh", TEXT) == (False, "fresh")
    assert cache.decode_errors == 1
    assert disk.get(f"v1:UC1:{generations.current('UC1')}:n") == b"fresh"  # rewritten, readable again
    cache.close()


def test_put_get_and_invalidating_one_channel(tmp_path: Path) -> None:
    cache = open_cache(CacheOptions(memory_ttl_seconds=30, disk_dir=tmp_path / "cache"))
    assert cache.tier_names == ["memory", "disk"] and cache.ttl == 30
    cache.put("UC1", "kpis", "one", TEXT)
    cache.put("UC2", "kpis", "two", TEXT)
    assert cache.get("UC1", "kpis") == (True, "one") and len(cache) == 2
    assert cache.invalidate_channel("UC1") == 1
    assert cache.get("UC1", "kpis") == (False, None) and cache.get("UC2", "kpis") == (True, "two")
    cache.close()
    again = open_cache(CacheOptions(disk_dir=tmp_path / "cache"))  # the disk tier saw the invalidation too
    assert again.get_or_compute("UC1", "kpis", lambda: "recomputed", TEXT) == (False, "recomputed")
    assert again.get_or_compute("UC2", "kpis", lambda: "never", TEXT) == (True, "two")
    again.close()


def test_an_expired_entry_is_refreshed_once_and_without_shared_tiers_memory_is_all_there_is() -> None:
    cache = open_cache(CacheOptions(memory_ttl_seconds=0.05))
    assert cache.tier_names == ["memory"]
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get_or_compute("UC1", "k", compute) == (False, 1)
    assert cache.get_or_compute("UC1", "k", compute) == (True, 1)
    time.sleep(0.1)
    assert cache.get_or_compute("UC1", "k", compute) == (False, 2)  # expired: computed again
    assert cache.get_or_compute("UC1", "k", compute) == (True, 2)
    cache.close()
