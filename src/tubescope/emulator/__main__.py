"""``python -m tubescope.emulator``: serve a world in its own process (tests and benchmarks).

Unlike ``tubescope emulator serve`` (the user-facing command) this takes every knob a test needs:
a fixed clock reading, exact keys and quotas, a fixed number of videos per channel. Prints the base
URL once it is about to serve.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

import uvicorn

from tubescope.emulator.clock import EmulatorClock
from tubescope.emulator.faults import FaultConfig
from tubescope.emulator.server import API_PREFIX, DEMO_KEYS, create_app
from tubescope.emulator.world import World


def main(argv: list[str] | None = None) -> None:
    """Run the emulator from the command line (``python -m tubescope.emulator``)."""
    parser = argparse.ArgumentParser(prog="python -m tubescope.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--videos-per-channel", type=int, default=None)
    parser.add_argument("--now", default=None, help="fixed clock reading, ISO-8601 with offset")
    parser.add_argument("--keys", default=None, help='JSON object {"key": daily_quota, ...}')
    parser.add_argument("--faults", default=None, help="JSON object of FaultConfig fields")
    args = parser.parse_args(argv)

    world = World(seed=args.seed, n_channels=args.channels, videos_per_channel=args.videos_per_channel)
    clock = EmulatorClock(datetime.fromisoformat(args.now) if args.now else None)
    keys = {str(k): int(v) for k, v in json.loads(args.keys).items()} if args.keys else dict(DEMO_KEYS)
    faults = FaultConfig.from_dict(json.loads(args.faults)) if args.faults else None
    app = create_app(world, clock=clock, keys=keys, faults=faults)
    print(f"http://{args.host}:{args.port}{API_PREFIX}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
