"""Cache warming: each channel's answers are computed before anyone asks for them.

A run is the only thing that changes what the read routes answer, so the service computes
those answers when it starts and again, for the channels concerned, whenever a run lands: a
request then almost always finds its answer in the cache, and a miss is the exception (a new
filter, an ad-hoc peer set) rather than the first visit of every page. The cheap answers (the
channel list, each channel's detail, KPIs and video index) come first for every channel, the
analyses (the costly part) after them. The warmer computes through the same functions and
cache keys as the routes (:mod:`tubescope.service.routers.channels`), so a warmed entry is the
very entry a request reads.

One background thread does the work. It shares the process with the requests (and the GIL), so
a landing run costs some throughput while it warms; that is the price of paying each answer's
cost once, when the data change, instead of on a user's first request.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import structlog

from tubescope.service.routers.channels import warm_channel, warm_fleet
from tubescope.service.state import ServiceState

_log = structlog.get_logger("tubescope.cache")


@dataclass
class WarmingProgress:
    """What the warmer has done since the data last changed (shown in ``/ready``)."""

    channels: int = 0
    answers_warmed: int = 0
    analyses_warmed: int = 0
    failures: int = 0
    busy: bool = True
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The progress as JSON: ``warm`` is true once every channel's answers are cached."""
        return {
            "warm": not self.busy,
            "channels": self.channels,
            "answers_warmed": self.answers_warmed,
            "analyses_warmed": self.analyses_warmed,
            "failures": self.failures,
            "seconds": self.seconds,
        }


class CacheWarmer:
    """A background thread that fills the read routes' cache for the channels that changed."""

    def __init__(self, state: ServiceState, *, analyses: bool = True) -> None:
        self._state = state
        self._analyses = analyses
        self._wake = threading.Condition()
        self._everything = True  # the first pass covers the whole warehouse
        self._pending: set[str] = set()
        self._closed = False
        self.progress = WarmingProgress()
        self._thread = threading.Thread(target=self._run, name="cache-warmer", daemon=True)

    def start(self) -> None:
        """Begin warming every channel (in the background)."""
        self._thread.start()

    def request(self, channel_ids: Iterable[str]) -> None:
        """Warm ``channel_ids`` again (a run landed for them), after what is under way."""
        with self._wake:
            self._pending.update(channel_ids)
            self.progress.busy = True
            self._wake.notify()

    def close(self) -> None:
        """Stop after the answer being computed (at most one analysis)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _next_batch(self) -> tuple[bool, set[str]] | None:
        with self._wake:
            while not (self._closed or self._everything or self._pending):
                self.progress.busy = False
                self._wake.wait()
            if self._closed:
                return None
            batch = (self._everything, self._pending)
            self._everything, self._pending = False, set()
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            everything, changed = batch
            started = time.perf_counter()
            self.progress = WarmingProgress()
            try:
                stored = warm_fleet(self._state)
            # Whatever stops warming (the warehouse gone, a bad row), requests compute and report
            # it themselves; the warmer only logs it and waits for the next change.
            except Exception as exc:
                _log.warning("cache.warm_failed", what="channel list", error=type(exc).__name__)
                continue
            targets = stored if everything else [cid for cid in stored if cid in changed]
            # Each replica warms in its own random order: with a shared Redis tier, what one
            # computed the others then read instead of computing it again.
            random.shuffle(targets)
            self.progress.channels = len(targets)
            for analysis in (False, True) if self._analyses else (False,):
                for channel_id in targets:
                    if self._closed:
                        return
                    self._warm(channel_id, analysis=analysis)
            self.progress.seconds = round(time.perf_counter() - started, 2)
            _log.info("cache.warmed", **self.progress.to_dict())

    def _warm(self, channel_id: str, *, analysis: bool) -> None:
        try:
            warm_channel(self._state, channel_id, analysis=analysis)
        except Exception as exc:  # e.g. no statistics yet: the route answers that with a 404 itself
            self.progress.failures += 1
            _log.debug(
                "cache.warm_failed", channel_id=channel_id, analysis=analysis, error=type(exc).__name__
            )
            return
        if analysis:
            self.progress.analyses_warmed += 1
        else:
            self.progress.answers_warmed += 1
