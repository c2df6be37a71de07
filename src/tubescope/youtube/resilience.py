"""Rate limit, backoff and circuit breaker: how the client stays polite and stops hammering a sick API.

The clock and the random source are parameters so that tests can drive time instead of waiting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from aiolimiter import AsyncLimiter

from tubescope.errors import CircuitOpen

Clock = Callable[[], float]


class RateLimiter:
    """At most ``requests_per_second`` requests start per second, without an initial burst."""

    def __init__(self, requests_per_second: float) -> None:
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be > 0")
        # One token per 1/rate seconds: a bucket of one means evenly spaced starts, so a fresh
        # client does not fire a burst that trips the API's per-second limit.
        self._limiter = AsyncLimiter(1, 1.0 / requests_per_second)

    async def acquire(self) -> None:
        """Wait for the rate limiter's permission to send a request."""
        await self._limiter.acquire()


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits a random time in [d/2, d], d = base·2ⁿ ≤ max.

    Half-jitter keeps a floor (so a retry never fires immediately into the same overload) while
    still spreading clients apart. A ``Retry-After`` the server sent wins, capped at ``max_seconds``
    times four so a hostile header cannot park the run for hours.
    """

    base_seconds: float = 0.5
    max_seconds: float = 30.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt``: ``Retry-After`` when given (capped), else jittered
        exponential."""
        if retry_after is not None:
            return min(retry_after, self.max_seconds * 4)
        ceiling = min(self.max_seconds, self.base_seconds * (2**attempt))
        return rng.uniform(ceiling / 2, ceiling)


class BreakerState(StrEnum):
    """The state of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``reset_seconds`` lets one probe through.

    A successful probe closes it, a failed one opens it again for another ``reset_seconds``. While
    a probe is in flight, every other request is refused rather than queued behind it.
    """

    def __init__(self, threshold: int, reset_seconds: float, clock: Clock) -> None:
        if threshold < 1:
            raise ValueError("threshold must be >= 1")
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The breaker's state now (an open breaker turns half-open after its cool-down)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_seconds:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        """Failures in a row since the last success."""
        return self._failures

    def before_request(self) -> None:
        """Raise CircuitOpen unless a request may go out now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return
        assert self._opened_at is not None
        wait = max(0.0, self.reset_seconds - (self._clock() - self._opened_at))
        raise CircuitOpen(
            f"the circuit breaker is open after {self._failures} consecutive failures; "
            f"the API is not answering properly (next probe in {wait:.0f}s)",
            reason="circuitOpen",
        )

    def record_success(self) -> None:
        """Close the breaker after a success."""
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        """Count a failure; open the breaker after too many in a row."""
        self._failures += 1
        if self._probe_in_flight or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._probe_in_flight = False

    def release_probe(self) -> None:
        """The probe ended in neither success nor failure (e.g. a skip): allow another probe."""
        self._probe_in_flight = False
