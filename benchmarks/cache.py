"""Benchmark of the cache tiers: p50 of one channel's analysis answer by the tier that serves it.

Collects a few channels from the in-process emulator into a temporary warehouse, starts a
private redis-server, then answers ``/v1/channels/{id}/analysis``'s work (the service's own
computation and its encoded body, the same codec as the service) from:

- ``memory``: the in-process LRU (the answer object itself);
- ``redis``: the memory tier emptied before each call, so Redis answers (GET + decode);
- ``disk``: the memory tier emptied before each call, with only the disk tier below it;
- ``cold``: the channel invalidated before each call, so the analysis is computed and stored in
  every tier (memory, Redis, disk).

Each figure includes the generation lookup that every call makes (a Redis GET, or a SQLite read
for the disk store). Prints one JSON document with the figures and the machine.

    .venv/bin/python benchmarks/cache.py [--channels 2] [--repeat 25]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _p50_ms(call: Callable[[], Any], before: Callable[[], None], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--cold-repeat", type=int, default=5)
    args = parser.parse_args()

    import redis as redis_lib

    from tubescope.cache import CacheOptions, MemoryTier, RedisGenerations, RedisTier, TieredCache, open_cache
    from tubescope.jobs import catalog
    from tubescope.jobs.collect import collect
    from tubescope.logging import configure_logging
    from tubescope.servers import redis_server
    from tubescope.service.routers.channels import ENCODED, _encoded
    from tubescope.testing import running_emulator
    from tubescope.warehouse.repository import Warehouse

    configure_logging("WARNING", json=True)
    with tempfile.TemporaryDirectory(prefix="tubescope-bench-cache-") as tmp, redis_server() as redis:
        folder = Path(tmp)
        db_path = folder / "warehouse.duckdb"
        with running_emulator(seed=5, n_channels=args.channels) as emulator:
            channel_id = emulator.world.channel_ids()[0]
            collect(
                emulator.world.channel_ids(),
                db_path=db_path,
                api_keys=emulator.keys[:1],
                api_base=emulator.base_url,
            )
        client = redis_lib.Redis.from_url(redis.url)
        with Warehouse.open(db_path) as warehouse:

            def compute() -> Any:
                return _encoded(catalog.channel_analysis(warehouse, channel_id).to_dict())

            def answer(cache: TieredCache) -> Callable[[], Any]:
                return lambda: cache.get_or_compute(channel_id, "analysis", compute, ENCODED)

            full = open_cache(CacheOptions(disk_dir=folder / "full"), client)
            body = answer(full)()[1]
            cold = _p50_ms(answer(full), lambda: full.invalidate([channel_id]), args.cold_repeat)
            generations = RedisGenerations(client, max_age_seconds=0.5)  # as the service reads them
            redis_only = TieredCache(MemoryTier(300), [RedisTier(client)], generations)
            disk_only = open_cache(CacheOptions(disk_dir=folder / "disk"))
            answer(redis_only)()
            answer(disk_only)()
            # interleaved, so each tier meets the same load on this shared machine
            timings: dict[str, list[float]] = {"memory": [], "redis": [], "disk": []}
            for _ in range(args.repeat):
                for name, cache, before in (
                    ("memory", full, lambda: None),
                    ("redis", redis_only, redis_only.memory.close),
                    ("disk", disk_only, disk_only.memory.close),
                ):
                    timings[name].append(_p50_ms(answer(cache), before, 1))
            memory, via_redis, via_disk = (round(statistics.median(timings[n]), 3) for n in timings)
            tiers = {
                name: {s.tier: {"hits": s.hits, "misses": s.misses} for s in cache.stats()}
                for name, cache in (("full", full), ("redis_only", redis_only), ("disk_only", disk_only))
            }
            for cache in (full, redis_only, disk_only):
                cache.close()
        client.close()

    print(
        json.dumps(
            {
                "benchmark": "cache",
                "answer": "GET /v1/channels/{id}/analysis body (the service's computation and codec)",
                "answer_bytes": len(body.raw),
                "answer_gzipped_bytes": len(body.gzipped or b""),
                "p50_ms": {"memory": memory, "redis": via_redis, "disk": via_disk, "cold": cold},
                "repeat": {
                    "memory": args.repeat,
                    "redis": args.repeat,
                    "disk": args.repeat,
                    "cold": args.cold_repeat,
                },
                "tier_counts": tiers,
                "machine": {
                    "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(),
                    "load_1m": os.getloadavg()[0],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
