"""Turning the watch list into collection jobs at the right times.

Any number of schedulers (every ``tubescope serve`` replica runs one) call :func:`claim_due` on
their timer; a tick is claimed in the warehouse by compare-and-set, so each due channel is handed
out once, and a channel whose ticks were missed during downtime is collected once, not once per
missed tick. The clock is a parameter, so an emulated month runs in seconds in tests.
"""

from __future__ import annotations

from datetime import datetime

from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.watches import claim_tick, list_watches


def claim_due(warehouse: Warehouse, now: datetime) -> list[str]:
    """The channels whose tick is due at ``now`` and that this caller claimed (to enqueue)."""
    return [w.channel_id for w in list_watches(warehouse) if w.due(now) and claim_tick(warehouse, w, now)]
