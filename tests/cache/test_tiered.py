"""The tiered cache over real tiers: an LRU, diskcache folders and a real redis-server."""

from __future__ import annotations

import time
from pathlib import Path

import redis as redis_lib

from tubescope.cache import (
    BYTES,
    TEXT,
    CacheOptions,
    DiskGenerations,
    DiskTier,
    MemoryTier,
    RedisTier,
    TieredCache,
    open_cache,
)
from tubescope.servers import free_port


class Counter:
    """A compute function that says how often it ran."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return self.value


def _tier(cache: TieredCache, name: str) -> tuple[int, int]:
    stats = {s.tier: s for s in cache.stats()}[name]
    return stats.hits, stats.misses


def test_memory_tier_keeps_its_entry_and_byte_bounds() -> None:
    tier: MemoryTier[bytes] = MemoryTier(60, max_entries=3, max_bytes=100)
    for index in range(5):
        tier.set(f"k{index}", b"x", 1)
    assert len(tier) == 3 and tier.get("k0") is None and tier.get("k4") == b"x"
    tier.set("big", b"y" * 80, 80)
    tier.set("bigger", b"z" * 60, 60)  # 140 bytes > 100: the least recently used go
    assert tier.get("big") is None and tier.get("bigger") == b"z" * 60
    assert tier.stats().bytes <= 100


def test_a_restarted_process_gets_its_answer_from_disk(tmp_path: Path) -> None:
    options = CacheOptions(disk_dir=tmp_path / "cache")
    first = open_cache(options)
    compute = Counter("analysis")
    assert first.get_or_compute("UC1", "analysis", compute, TEXT) == (False, "analysis")
    first.close()

    again = open_cache(options)  # a new process: empty memory, same folder
    assert again.get_or_compute("UC1", "analysis", compute, TEXT) == (True, "analysis")
    assert compute.calls == 1
    assert _tier(again, "memory") == (0, 1) and _tier(again, "disk") == (1, 0)
    assert again.get_or_compute("UC1", "analysis", compute, TEXT) == (True, "analysis")
    assert _tier(again, "memory") == (1, 1)  # the disk hit was copied into memory
    assert {s.tier: s.bytes for s in again.stats()}["disk"] > 0
    again.close()


def test_a_run_announced_by_another_process_reaches_the_disk_tier_and_survives_restarts(
    tmp_path: Path,
) -> None:
    options = CacheOptions(disk_dir=tmp_path / "cache")
    server, cli = open_cache(options), open_cache(options)
    server.get_or_compute("UC1", "analysis", Counter("old"), TEXT)
    assert server.get("UC1", "analysis") == (True, "old")
    cli.invalidate(["UC1"])  # a collect in another process on this host
    assert server.get("UC1", "analysis") == (False, None)
    assert server.get_or_compute("UC1", "analysis", Counter("new"), TEXT) == (False, "new")
    server.close()
    cli.close()
    restarted = open_cache(options)
    assert restarted.get_or_compute("UC1", "analysis", Counter("never"), TEXT) == (True, "new")
    restarted.close()


def test_two_replicas_share_answers_and_invalidations_through_redis(redis_url: str, tmp_path: Path) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    one = open_cache(CacheOptions(disk_dir=tmp_path / "one", generation_max_age_seconds=0), client)
    two = open_cache(CacheOptions(disk_dir=tmp_path / "two", generation_max_age_seconds=0), client)
    compute = Counter("analysis")
    assert one.get_or_compute("UC1", "analysis", compute, TEXT) == (False, "analysis")
    assert two.get_or_compute("UC1", "analysis", compute, TEXT) == (True, "analysis")
    assert compute.calls == 1 and _tier(two, "redis") == (1, 0)
    assert two.get("UC1", "analysis") == (True, "analysis")  # now in two's memory

    one.invalidate(["UC1"])  # a run landed on replica one
    assert two.get("UC1", "analysis") == (False, None)
    assert two.get_or_compute("UC1", "analysis", Counter("fresh"), TEXT) == (False, "fresh")
    assert one.get_or_compute("UC1", "analysis", Counter("never"), TEXT) == (True, "fresh")
    assert one.get_or_compute("UC2", "analysis", Counter("other"), TEXT) == (False, "other")
    one.close()
    two.close()
    client.close()


def test_a_replica_sees_another_replicas_run_within_the_generation_max_age(
    redis_url: str, tmp_path: Path
) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    one = open_cache(CacheOptions(generation_max_age_seconds=0.3), client)
    two = open_cache(CacheOptions(generation_max_age_seconds=0.3), client)
    two.get_or_compute("UC1", "analysis", Counter("old"), TEXT)
    one.invalidate(["UC1"])
    assert one.get("UC1", "analysis") == (False, None)  # its own invalidation: at once
    time.sleep(0.35)
    assert two.get("UC1", "analysis") == (False, None)
    assert two.get_or_compute("UC1", "analysis", Counter("new"), TEXT) == (False, "new")
    one.close()
    two.close()
    client.close()


def test_redis_losing_its_data_never_brings_back_an_old_disk_entry(redis_url: str, tmp_path: Path) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    options = CacheOptions(disk_dir=tmp_path / "cache")
    cache = open_cache(options, client)
    cache.get_or_compute("UC1", "analysis", Counter("before"), TEXT)
    cache.close()
    client.flushall()  # Redis restarted without persistence: the generation tokens are gone
    cache = open_cache(options, client)
    assert cache.get_or_compute("UC1", "analysis", Counter("recomputed"), TEXT) == (False, "recomputed")
    cache.close()
    client.close()


def test_the_redis_tier_stays_within_its_byte_bound(redis_url: str) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    tier = RedisTier(client, ttl_seconds=60, max_bytes=1000)
    for index in range(10):
        tier.set(f"k{index}", bytes([index]) * 300)
    held = tier.stats().bytes
    assert 0 < held <= 1000
    assert tier.get("k0") is None and tier.get("k9") == bytes([9]) * 300
    tier.set("k9", b"small")  # replacing an entry counts its new size only
    assert tier.stats().bytes == held - 300 + 5
    tier.set("huge", b"x" * 5000)  # larger than the whole tier: not stored
    assert tier.get("huge") is None
    client.close()


def test_an_unreachable_redis_costs_speed_not_answers(tmp_path: Path) -> None:
    client = redis_lib.Redis(port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2)
    cache = open_cache(CacheOptions(disk_dir=tmp_path / "cache"), client)
    compute = Counter("analysis")
    assert cache.get_or_compute("UC1", "analysis", compute, TEXT) == (False, "analysis")
    assert cache.get_or_compute("UC1", "analysis", compute, TEXT) == (False, "analysis")
    assert compute.calls == 2  # never a stale answer, never a failure
    assert cache.generation_errors == 1  # and one timeout, not one per request, while it is down
    assert cache.get("UC1", "analysis") == (False, None)
    cache.close()


def test_an_invalidation_redis_refused_is_written_before_anything_is_served_again(
    redis_url: str, tmp_path: Path
) -> None:
    admin = redis_lib.Redis.from_url(redis_url)
    admin.execute_command("ACL", "SETUSER", "replica", "on", ">pw", "~*", "+@all")
    client = redis_lib.Redis.from_url(redis_url, username="replica", password="pw")
    one = open_cache(CacheOptions(disk_dir=tmp_path / "one"), client)
    one.retry_seconds = 0.0
    two = open_cache(CacheOptions(disk_dir=tmp_path / "two"), client)
    one.get_or_compute("UC1", "analysis", Counter("old"), TEXT)
    try:
        admin.execute_command("ACL", "SETUSER", "replica", "-set")  # Redis refuses the bump
        one.invalidate(["UC1"])
        assert one.get_or_compute("UC1", "analysis", Counter("uncached"), TEXT) == (False, "uncached")
    finally:
        admin.execute_command("ACL", "SETUSER", "replica", "+set")
    assert one.get_or_compute("UC1", "analysis", Counter("new"), TEXT) == (False, "new")
    assert two.get_or_compute("UC1", "analysis", Counter("never"), TEXT) == (True, "new")
    for closing in (one, two):
        closing.close()
    admin.execute_command("ACL", "DELUSER", "replica")
    client.close()
    admin.close()


def test_tiers_are_read_in_order_and_a_lower_hit_fills_the_tiers_above(tmp_path: Path) -> None:
    upper, lower = DiskTier(tmp_path / "upper"), DiskTier(tmp_path / "lower")
    generations = DiskGenerations(tmp_path / "generations")
    cache = TieredCache(MemoryTier(60), [upper, lower], generations)
    key = f"v1:UC1:{generations.current('UC1')}:analysis"
    lower.set(key, b"from the lower tier")
    assert cache.get_or_compute("UC1", "analysis", Counter("never"), BYTES) == (True, b"from the lower tier")
    assert upper.get(key) == b"from the lower tier"
    assert [s.tier for s in cache.stats()] == ["memory", "disk", "disk"]
    cache.close()


def test_values_without_a_codec_stay_in_memory(tmp_path: Path) -> None:
    cache = open_cache(CacheOptions(disk_dir=tmp_path / "cache"))
    frame = object()
    assert cache.get_or_compute("UC1", "kpis", lambda: frame) == (False, frame)
    assert cache.get_or_compute("UC1", "kpis", lambda: None) == (True, frame)
    assert _tier(cache, "disk") == (0, 0)
    cache.close()
