"""The offline YouTube: a seeded world simulator behind a Data API v3 emulator.

* :mod:`tubescope.emulator.world` — :class:`World` (deterministic channels, uploads, view curves,
  planted truth in ``World.truth``) and ``World.observe(t)``;
* :mod:`tubescope.emulator.server` — ``create_app(world, clock=, keys=, faults=)``, the ASGI app
  serving ``/youtube/v3/...`` plus ``/_admin/{quota,clock,faults,health}``;
* :mod:`tubescope.emulator.quota`, :mod:`~tubescope.emulator.faults`,
  :mod:`~tubescope.emulator.clock` — the ledger, fault injection and the settable clock.

Only :mod:`tubescope.testing` and the CLI (``tubescope emulator serve``, the demo) import this.
"""

from tubescope.emulator.clock import EmulatorClock
from tubescope.emulator.faults import FaultConfig
from tubescope.emulator.quota import QuotaLedger
from tubescope.emulator.server import DEMO_KEYS, create_app
from tubescope.emulator.world import World, WorldTruth

__all__ = ["DEMO_KEYS", "EmulatorClock", "FaultConfig", "QuotaLedger", "World", "WorldTruth", "create_app"]
