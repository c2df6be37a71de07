"""The emulator's clock: the instant at which the world is observed and quota days are counted."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from threading import Lock

DEFAULT_NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
"""After both view-methodology changes, inside the default world's span."""


class EmulatorClock:
    """A settable, advanceable clock; it stands still unless told to move.

    A frozen clock keeps the emulator's answers reproducible: the same requests at the same
    clock reading give byte-identical bodies. Thread-safe (the server and a test share one).
    """

    def __init__(self, now: datetime | None = None) -> None:
        self._now = _aware(now or DEFAULT_NOW)
        self._lock = Lock()
        self._listeners: list[Callable[[datetime], None]] = []

    def on_change(self, listener: Callable[[datetime], None]) -> Callable[[], None]:
        """Call ``listener(now)`` after every ``set`` or ``advance`` (a timer on this clock, such
        as the demo service's watch scheduler, fires then); returns the call that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def _moved(self, now: datetime) -> datetime:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(now)
        return now

    def now(self) -> datetime:
        """The emulated current time."""
        with self._lock:
            return self._now

    def __call__(self) -> datetime:
        """A clock is also a ``Callable[[], datetime]``, the shape other layers take."""
        return self.now()

    def set(self, now: datetime) -> datetime:
        """Set the emulated time to ``now``; returns it as an aware datetime."""
        with self._lock:
            self._now = _aware(now)
            moved = self._now
        return self._moved(moved)

    def advance(self, by: timedelta | float) -> datetime:
        """Move forward by a timedelta or a number of seconds (negative moves back)."""
        delta = by if isinstance(by, timedelta) else timedelta(seconds=float(by))
        with self._lock:
            self._now = self._now + delta
            moved = self._now
        return self._moved(moved)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.now().isoformat()})"


class RunningClock(EmulatorClock):
    """A clock that starts at the world's date and then moves with real time (what ``emulator
    serve`` uses): collecting again a day later sees the world a day later. ``set`` and
    ``advance`` still jump it."""

    def __init__(self, now: datetime | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(now)
        self._monotonic = monotonic
        self._started = monotonic()

    def now(self) -> datetime:
        """The emulated time, moving with the wall clock since it was last set."""
        with self._lock:
            return self._now + timedelta(seconds=self._monotonic() - self._started)

    def set(self, now: datetime) -> datetime:
        """Set the emulated time to ``now`` and keep it running from there."""
        with self._lock:
            self._now = _aware(now)
            self._started = self._monotonic()
            moved = self._now
        return self._moved(moved)

    def advance(self, by: timedelta | float) -> datetime:
        """Move the emulated time forward by ``by`` (a timedelta or seconds)."""
        delta = by if isinstance(by, timedelta) else timedelta(seconds=float(by))
        with self._lock:
            self._now = self._now + delta
        return self._moved(self.now())


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("the emulator clock needs a timezone-aware datetime")
    return moment.astimezone(UTC)
