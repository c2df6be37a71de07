"""Turning the watch list into collection jobs at the right times.

Any number of schedulers (every ``tubescope serve`` replica runs one) call :func:`claim_due` on
their timer; a tick is claimed in the warehouse by compare-and-set, so each due channel is handed
out once, and a channel whose ticks were missed during downtime is collected once, not once per
missed tick. The clock is a parameter, so an emulated month runs in seconds in tests.

:func:`dense_due` says which young videos the dense pass of a tick's whole hour samples: those
whose sampling age fell in the hour before it and whose sample is not stored yet.
"""

from __future__ import annotations

from datetime import datetime

from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.watches import YoungVideo, claim_tick, list_watches, taken_slots, young_videos
from tubescope.watch.plan import PASS_EVERY, DenseSampling, pass_at


def claim_due(warehouse: Warehouse, now: datetime) -> list[str]:
    """The channels whose tick is due at ``now`` and that this caller claimed (to enqueue)."""
    return [w.channel_id for w in list_watches(warehouse) if w.due(now) and claim_tick(warehouse, w, now)]


def dense_due(warehouse: Warehouse, now: datetime, dense: DenseSampling) -> list[tuple[YoungVideo, float]]:
    """Young videos of watched channels due for a dense sample at ``now``'s pass, with the
    sampling age (hours) each sample stands for."""
    at_pass = pass_at(now)
    candidates = young_videos(warehouse, at_pass - dense.until - PASS_EVERY)
    taken = taken_slots(warehouse, [y.video_id for y in candidates])
    due: list[tuple[YoungVideo, float]] = []
    for video in candidates:
        slot = dense.slot_due(video.published_at, at_pass)
        if slot is not None and (video.video_id, slot) not in taken:
            due.append((video, slot))
    return due
