"""Fault injection: slow, failing and broken answers, decided deterministically per request.

Request number ``n`` (counted from server start, admin routes excluded) gets its fault from a hash
of ``(seed, n)``, so a sequential client sees the same faults in the same places every run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from threading import Lock
from typing import Any

from tubescope.emulator.ids import unit_hash


class Fault(StrEnum):
    """A failure the emulator can inject into a response."""

    CONNECTION_RESET = "connection_reset"
    BACKEND_ERROR = "backend_error"  # 500 backendError
    UNAVAILABLE = "unavailable"  # 503
    TOO_MANY_REQUESTS = "too_many_requests"  # 429
    RATE_LIMIT = "rate_limit"  # 403 rateLimitExceeded (comes in bursts)
    TRUNCATED = "truncated"  # 200 with the JSON body cut short
    MALFORMED = "malformed"  # 200 with a body that is not JSON


@dataclass(frozen=True)
class FaultConfig:
    """Which faults to inject and how often (rates are probabilities per request, 0..1)."""

    seed: int = 0
    latency_ms: float = 0.0
    """Fixed delay added to every API request (asyncio.sleep: other requests keep flowing)."""
    jitter_ms: float = 0.0
    """Extra delay, uniform in [0, jitter_ms]."""
    backend_error_rate: float = 0.0
    unavailable_rate: float = 0.0
    too_many_requests_rate: float = 0.0
    rate_limit_rate: float = 0.0
    """Chance that a request starts a burst of 403 rateLimitExceeded answers."""
    rate_limit_burst: int = 3
    truncated_rate: float = 0.0
    malformed_rate: float = 0.0
    connection_reset_rate: float = 0.0

    def __post_init__(self) -> None:
        rates = [
            self.backend_error_rate,
            self.unavailable_rate,
            self.too_many_requests_rate,
            self.rate_limit_rate,
            self.truncated_rate,
            self.malformed_rate,
            self.connection_reset_rate,
        ]
        if any(r < 0 or r > 1 for r in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be within 0..1 and sum to at most 1")
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.rate_limit_burst < 1:
            raise ValueError("latency, jitter must be >= 0 and rate_limit_burst >= 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: FaultConfig | None = None) -> FaultConfig:
        """Build from JSON (unknown fields are an error; missing ones keep ``base``'s values)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return replace(base or cls(), **data)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-safe dictionary."""
        return asdict(self)


@dataclass(frozen=True)
class FaultDecision:
    """What the injector decided for one request: a delay and an optional fault."""

    delay_seconds: float
    fault: Fault | None


class FaultInjector:
    """Turns a :class:`FaultConfig` into a decision per request. Thread-safe."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._config = config or FaultConfig()
        self._counter = 0
        self._burst_left = 0
        self._lock = Lock()
        self.injected: dict[str, int] = {}

    @property
    def config(self) -> FaultConfig:
        """The fault configuration in force."""
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the settings; the request counter restarts so the sequence is reproducible."""
        with self._lock:
            self._config = config
            self._counter = 0
            self._burst_left = 0

    def decide(self) -> FaultDecision:
        """Decide the delay and fault of the next request (deterministic for a given configuration)."""
        with self._lock:
            cfg = self._config
            n = self._counter
            self._counter += 1
            delay = cfg.latency_ms / 1000.0
            if cfg.jitter_ms:
                delay += unit_hash(cfg.seed, n, 1) * cfg.jitter_ms / 1000.0
            fault = self._pick(cfg, n)
            if fault is not None:
                self.injected[fault.value] = self.injected.get(fault.value, 0) + 1
            return FaultDecision(delay, fault)

    def _pick(self, cfg: FaultConfig, n: int) -> Fault | None:
        if self._burst_left > 0:
            self._burst_left -= 1
            return Fault.RATE_LIMIT
        draw = unit_hash(cfg.seed, n, 2)
        edge = 0.0
        for rate, fault in (
            (cfg.connection_reset_rate, Fault.CONNECTION_RESET),
            (cfg.backend_error_rate, Fault.BACKEND_ERROR),
            (cfg.unavailable_rate, Fault.UNAVAILABLE),
            (cfg.too_many_requests_rate, Fault.TOO_MANY_REQUESTS),
            (cfg.rate_limit_rate, Fault.RATE_LIMIT),
            (cfg.truncated_rate, Fault.TRUNCATED),
            (cfg.malformed_rate, Fault.MALFORMED),
        ):
            edge += rate
            if draw < edge:
                if fault is Fault.RATE_LIMIT:
                    self._burst_left = cfg.rate_limit_burst - 1
                return fault
        return None
