"""API keys: which one to use now, and what to do when one runs out of quota.

Keys are plain strings here and never leave this module in readable form: everything that can be
logged, raised or stored names a key by :func:`~tubescope.logging.key_fingerprint`.
"""

from __future__ import annotations

from collections.abc import Sequence

from tubescope.errors import ConfigError, QuotaExhausted
from tubescope.logging import key_fingerprint, register_secret


class KeyPool:
    """Round the configured keys in order; a key that hits ``quotaExceeded`` is set aside for the day."""

    def __init__(self, keys: Sequence[str]) -> None:
        cleaned = [k.strip() for k in keys if k and k.strip()]
        if not cleaned:
            raise ConfigError("no YouTube API key configured: set TUBESCOPE_API_KEYS or pass --api-key")
        if len(set(cleaned)) != len(cleaned):
            raise ConfigError("the same API key is configured more than once")
        for key in cleaned:
            register_secret(key)
        self._keys = cleaned
        self._exhausted: set[int] = set()
        self._current = 0

    def __repr__(self) -> str:
        return f"KeyPool({', '.join(self.fingerprints)}; {len(self._exhausted)} exhausted)"

    @property
    def fingerprints(self) -> list[str]:
        return [key_fingerprint(k) for k in self._keys]

    @property
    def exhausted_fingerprints(self) -> list[str]:
        return [key_fingerprint(self._keys[i]) for i in sorted(self._exhausted)]

    def __len__(self) -> int:
        return len(self._keys)

    def current(self) -> str:
        """The key to send with the next request; QuotaExhausted when every key is spent."""
        if len(self._exhausted) == len(self._keys):
            raise QuotaExhausted(
                f"all {len(self._keys)} API key(s) are out of quota for today "
                f"({', '.join(self.fingerprints)}); the quota resets at midnight US Pacific time",
                status=403,
                reason="quotaExceeded",
            )
        return self._keys[self._current]

    def mark_exhausted(self, key: str) -> bool:
        """Set ``key`` aside and move to the next live key; False when none is left."""
        try:
            index = self._keys.index(key)
        except ValueError:
            return self.has_live_key()
        self._exhausted.add(index)
        if self._current == index or self._current in self._exhausted:
            for step in range(1, len(self._keys) + 1):
                candidate = (index + step) % len(self._keys)
                if candidate not in self._exhausted:
                    self._current = candidate
                    break
        return self.has_live_key()

    def has_live_key(self) -> bool:
        return len(self._exhausted) < len(self._keys)
