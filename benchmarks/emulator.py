"""How many requests per second the emulator sustains on loopback.

Starts the emulator (uvicorn, one worker) in a child process with a world of ``--channels``
channels x ``--videos`` uploads, then drives it with ``--concurrency`` concurrent httpx clients
for ``--seconds`` per scenario:

* ``videos``: ``videos.list`` with 50 ids, part=snippet,contentDetails,statistics;
* ``playlist``: ``playlistItems.list`` pages of 50 (part=snippet,contentDetails) over the uploads;
* ``videos_latency``: the ``videos`` scenario with ``--latency-ms`` injected latency, whose ideal
  rate is concurrency / latency: the emulator must not be what stops it;
* ``videos_warm_cache``: the same requests repeated at a standing clock, answered from the
  emulator's answer cache (the other scenarios make every request distinct: cold).

``server_cpu_ms_per_request`` (CPU the emulator process used per request) is the capacity figure
that survives a busy machine; ``rps`` also measures the Python client and the machine's load.

Prints one JSON object: per scenario rps and p50/p99 latency, plus the machine.

    .venv/bin/python benchmarks/emulator.py --concurrency 8 16 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil

from tubescope.emulator.world import World
from tubescope.testing import emulator_process

NOW = "2026-12-31T00:00:00+00:00"
KEY = "bench-key"
_NONCE = itertools.count()


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    return info


async def _scenario(
    server: psutil.Process,
    base: str,
    requests: list[dict[str, str]],
    path: str,
    concurrency: int,
    seconds: float,
    *,
    cold: bool = True,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    counter = 0

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal errors, counter
        while time.perf_counter() < stop_at:
            params = requests[counter % len(requests)]
            if cold:
                # quotaUser (a standard Google parameter the emulator ignores) makes every request
                # distinct, so none is served from the emulator's answer cache
                params = {**params, "quotaUser": f"bench-{next(_NONCE)}"}
            counter += 1
            started = time.perf_counter()
            resp = await http.get(path, params=params)
            latencies.append(time.perf_counter() - started)
            if resp.status_code != 200:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    cpu_before = sum(server.cpu_times()[:2])
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        began = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    server_cpu = sum(server.cpu_times()[:2]) - cpu_before
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[max(int(len(ordered) * 0.99) - 1, 0)] * 1000, 2),
        # CPU the server spent per request: the capacity figure that contention on a shared
        # machine does not distort (1000 / this = requests per second per core)
        "server_cpu_ms_per_request": round(server_cpu * 1000 / max(len(latencies), 1), 3),
        "server_rps_per_core": round(len(latencies) / server_cpu, 1) if server_cpu else None,
    }


async def _run(args: argparse.Namespace, base: str, server: psutil.Process) -> dict[str, Any]:
    video_batches: list[dict[str, str]] = []
    playlist_pages: list[dict[str, str]] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        world = World(seed=7, n_channels=args.channels, videos_per_channel=args.videos)
        for channel_id in world.channel_ids():
            params = {"part": "contentDetails", "id": channel_id, "key": KEY}
            channel = (await http.get("/youtube/v3/channels", params=params)).json()["items"][0]
            uploads = channel["contentDetails"]["relatedPlaylists"]["uploads"]
            token = ""
            ids: list[str] = []
            while True:
                params = {
                    "part": "snippet,contentDetails",
                    "playlistId": uploads,
                    "maxResults": "50",
                    "key": KEY,
                }
                if token:
                    params["pageToken"] = token
                playlist_pages.append(params)
                page = (await http.get("/youtube/v3/playlistItems", params=params)).json()
                ids += [item["contentDetails"]["videoId"] for item in page["items"]]
                token = page.get("nextPageToken", "")
                if not token:
                    break
            for start in range(0, len(ids), 50):
                batch = ",".join(ids[start : start + 50])
                video_batches.append({"part": "snippet,contentDetails,statistics", "id": batch, "key": KEY})
    results: dict[str, Any] = {"video_batches": len(video_batches), "playlist_pages": len(playlist_pages)}
    for concurrency in args.concurrency:
        for name, path, requests in (
            ("videos", "/youtube/v3/videos", video_batches),
            ("playlist", "/youtube/v3/playlistItems", playlist_pages),
        ):
            results[f"{name}@{concurrency}"] = await _scenario(
                server, base, requests, path, concurrency, args.seconds
            )
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for params in video_batches:  # fill the answer cache first
                await http.get("/youtube/v3/videos", params=params)
        results[f"videos_warm_cache@{concurrency}"] = await _scenario(
            server, base, video_batches, "/youtube/v3/videos", concurrency, args.seconds, cold=False
        )
        async with httpx.AsyncClient(base_url=base) as http:
            await http.post("/_admin/faults", json={"latency_ms": args.latency_ms})
        entry = await _scenario(server, base, video_batches, "/youtube/v3/videos", concurrency, args.seconds)
        entry["ideal_rps"] = round(concurrency / (args.latency_ms / 1000), 1)
        results[f"videos_latency{args.latency_ms:g}ms@{concurrency}"] = entry
        async with httpx.AsyncClient(base_url=base) as http:
            await http.post("/_admin/faults", json={})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()

    now = datetime.fromisoformat(NOW)
    with emulator_process(
        seed=7, n_channels=args.channels, videos_per_channel=args.videos, keys={KEY: 10**12}, now=now
    ) as emulator:
        results = asyncio.run(_run(args, emulator.root_url, psutil.Process(emulator.pid)))
    print(
        json.dumps(
            {
                "benchmark": "emulator",
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "world": {"channels": args.channels, "videos_per_channel": args.videos},
                "seconds_per_scenario": args.seconds,
                "results": results,
                "machine": _machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
