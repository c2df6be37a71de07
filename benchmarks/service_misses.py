"""What the REST service's on-demand misses cost, each beside the path it replaced, in one run.

At saturation the tail of ``benchmarks/load.py`` comes from answers that cannot be precomputed;
this script times each one alone (median and p90 in ms of one thread's wall time, so the load
average matters; it is recorded):

- ``compare``: an ad-hoc peer set of 2-4 channels (``GET /v1/compare``). Before: the pandas
  benchmark per channel over the concatenated KPI rows, each id resolved again in SQL and the
  newest observation read per request (``tests/analysis/pandas_benchmark.py`` keeps that
  computation). After: :func:`tubescope.analysis.benchmark.compare_peers` over the channels'
  cached :class:`~tubescope.analysis.benchmark.PeerTable` rows and the cached newest observation.
  Both include building the JSON body. The two answers are checked equal first.
- ``video_filter``: a filter a channel has not seen (``ChannelVideos.mask``), at the channel's own
  size and at 10k videos; the service evaluates it on the event loop up to
  ``INLINE_FILTER_VIDEOS`` videos.
- ``rate_limit``: one check of the per-token limit shared through Redis (a private
  redis-server): ``limits`` on redis-py's blocking client (before), which held the event loop for
  the round trip, and the service's :class:`~tubescope.service.ratelimit.SharedRateLimiter`
  (after): ``limits.aio`` on the asyncio client, concurrent checks of a token grouped into one
  round trip. CPU per check, the wall time of 200 concurrent checks and the round trips they
  took; skipped when redis-server is not installed.

    .venv/bin/python benchmarks/service_misses.py                      # generates a 200k-row warehouse
    .venv/bin/python benchmarks/service_misses.py --db /work/bench/w1m.duckdb --out misses.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from load import generate, machine  # noqa: E402
from tests.analysis.pandas_benchmark import pandas_benchmark  # noqa: E402

from tubescope.analysis.benchmark import PeerTable, compare_peers, peer_table  # noqa: E402
from tubescope.jobs import catalog  # noqa: E402
from tubescope.jobs.common import newest_observation  # noqa: E402
from tubescope.service.routers.channels import INLINE_FILTER_VIDEOS, _encoded  # noqa: E402
from tubescope.warehouse.repository import Warehouse  # noqa: E402

FILTERS = (
    "format = short",
    "views > 5000",
    "title contains '?'",
    "format = long and likes > 100",
    "published_at >= 2025-06-01",
)


def timed(work: Callable[[int], object], count: int) -> dict[str, float]:
    """Median and p90 wall time of ``work(i)`` for i in range(count), in ms."""
    times = []
    for i in range(count):
        started = time.perf_counter()
        work(i)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 3),
        "p90_ms": round(times[int(0.9 * (len(times) - 1))], 3),
        "n": count,
    }


def old_compare(warehouse: Warehouse, ids: list[str], tables: dict[str, pd.DataFrame]) -> bytes:
    """The path ``/v1/compare`` took on a miss before: SQL per id, pandas per channel."""
    resolved = list(dict.fromkeys(catalog.resolve_channel(warehouse, ref) for ref in ids))
    fleet = pd.concat([tables[cid] for cid in resolved], ignore_index=True)
    reference = newest_observation(warehouse)
    results = [pandas_benchmark(fleet, cid, resolved, reference) for cid in resolved]
    return _encoded({"items": [r.to_dict() for r in results], "derived": True}).raw


def new_compare(ids: list[str], rows: dict[str, PeerTable], reference: Any) -> bytes:
    """The path it takes now: cached peer rows combined, numpy percentiles."""
    results = compare_peers(PeerTable.combine([rows[cid] for cid in ids]), ids, reference=reference)
    return _encoded({"items": [r.to_dict() for r in results], "derived": True}).raw


def compare_costs(warehouse: Warehouse, channel_ids: list[str], count: int) -> dict[str, Any]:
    """Both compare paths over the same ad-hoc peer sets; their bodies must be equal."""
    tables = {cid: catalog.channel_kpi_table(warehouse, cid) for cid in channel_ids}
    rows = {cid: peer_table(table) for cid, table in tables.items()}
    reference = newest_observation(warehouse)
    rng = random.Random(1)
    sets = [rng.sample(channel_ids, k=min(len(channel_ids), rng.randint(2, 4))) for _ in range(count)]
    for ids in sets[:20]:
        if old_compare(warehouse, ids, tables) != new_compare(ids, rows, reference):
            raise SystemExit(f"the two comparison paths disagree for {ids}")
    before = timed(lambda i: old_compare(warehouse, sets[i], tables), count)
    after = timed(lambda i: new_compare(sets[i], rows, reference), count)
    return {"before": before, "after": after, "speedup": round(before["median_ms"] / after["median_ms"], 1)}


def filter_costs(warehouse: Warehouse, channel_id: str, count: int) -> dict[str, Any]:
    """A new filter's mask, at the channel's size and at 10k videos."""
    frame = catalog.channel_videos_frame(warehouse, channel_id)
    out: dict[str, Any] = {"inline_up_to_videos": INLINE_FILTER_VIDEOS}
    for label, videos in (
        ("own", frame),
        ("10k", pd.concat([frame] * max(1, 10_000 // max(1, len(frame))), ignore_index=True)),
    ):
        ready = catalog.ChannelVideos(videos)

        def miss(i: int, ready: catalog.ChannelVideos = ready) -> None:
            ready._masks.clear()
            ready.mask(FILTERS[i % len(FILTERS)])

        out[label] = {"videos": len(videos), **timed(miss, count)}
    return out


def rate_limit_costs(count: int) -> dict[str, Any] | None:
    """One shared-limit check, blocking client vs asyncio client (CPU per check, wall for 200 at once)."""
    if shutil.which("redis-server") is None:
        return None
    from limits import RateLimitItemPerSecond
    from limits.storage import RedisStorage
    from limits.strategies import MovingWindowRateLimiter

    from tubescope.servers import redis_server
    from tubescope.service.ratelimit import SharedRateLimiter

    item = RateLimitItemPerSecond(1_000_000_000, 1)
    with redis_server() as redis:
        blocking = MovingWindowRateLimiter(RedisStorage(redis.url, key_prefix="bench-sync"))
        cpu = time.process_time()
        started = time.perf_counter()
        for i in range(count):
            blocking.hit(item, f"token-{i % 4}")
        sync = {
            "cpu_us_per_check": round((time.process_time() - cpu) / count * 1e6, 1),
            "event_loop_blocked_us_per_check": round((time.perf_counter() - started) / count * 1e6, 1),
        }

        async def concurrent() -> dict[str, float]:
            shared = SharedRateLimiter(redis.url, rate=1e9, burst=1_000_000_000, prefix="bench-async:")
            await shared.wait("warm")
            cpu = time.process_time()
            started = time.perf_counter()
            for start in range(0, count, 200):
                await asyncio.gather(*(shared.wait(f"token-{i % 4}") for i in range(start, start + 200)))
            return {
                "cpu_us_per_check": round((time.process_time() - cpu) / count * 1e6, 1),
                "wall_us_per_check_200_at_once": round((time.perf_counter() - started) / count * 1e6, 1),
                "round_trips_per_check": round(shared.round_trips / (count + 1), 3),
            }

        after = asyncio.run(concurrent())
    return {"before_sync": sync, "after_async": after}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, help="warehouse to read (copied first; default: a generated one)")
    parser.add_argument("--rows", type=int, default=200_000, help="video snapshots to generate without --db")
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--count", type=int, default=300, help="timed repetitions per figure")
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    args = parser.parse_args()
    report: dict[str, Any] = {"benchmark": "service_misses", "machine": machine()}
    report["load_average_before"] = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="tubescope-misses-") as tmp:
        db = Path(tmp) / "misses.duckdb"
        if args.db is not None:
            shutil.copyfile(args.db, db)
            report["warehouse"] = {"copied_from": str(args.db)}
        else:
            report["warehouse"] = generate(db, args.rows, args.channels)
        with Warehouse.open(db) as warehouse:
            channel_ids = [str(row["channel_id"]) for row in catalog.list_channels(warehouse)]
            report["channels"] = len(channel_ids)
            report["compare"] = compare_costs(warehouse, channel_ids, args.count)
            report["video_filter"] = filter_costs(warehouse, channel_ids[0], args.count)
    report["rate_limit"] = rate_limit_costs(args.count * 10)
    report["load_average_after"] = os.getloadavg()
    text = json.dumps(report, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
