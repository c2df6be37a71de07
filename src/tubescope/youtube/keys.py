"""API keys: which one to use now, and what to do when one runs out of quota.

Keys are plain strings here and never leave this module in readable form: everything that can be
logged, raised or stored names a key by :func:`~tubescope.logging.key_fingerprint`.

Quota runs out per *bucket*: since 2026-06 ``search.list`` and ``videos.batchGetStats`` have daily
buckets of their own, so a key whose search bucket is spent still serves ``videos.list``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tubescope.errors import ConfigError, QuotaExhausted
from tubescope.logging import key_fingerprint, register_secret

DEFAULT_BUCKET = "default"


class KeyPool:
    """Use the configured keys in order; a key that hits ``quotaExceeded`` is set aside for the day
    (in that bucket only) and the next live key takes over."""

    def __init__(self, keys: Sequence[str]) -> None:
        cleaned = [k.strip() for k in keys if k and k.strip()]
        if not cleaned:
            raise ConfigError("no YouTube API key configured: set TUBESCOPE_API_KEYS or pass --api-key")
        if len(set(cleaned)) != len(cleaned):
            raise ConfigError("the same API key is configured more than once")
        for key in cleaned:
            register_secret(key)
        self._keys = cleaned
        self._exhausted: dict[str, set[int]] = {}
        self._current: dict[str, int] = {}

    def __repr__(self) -> str:
        spent = len(self._exhausted.get(DEFAULT_BUCKET, ()))
        return f"KeyPool({', '.join(self.fingerprints)}; {spent} exhausted)"

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def fingerprints(self) -> list[str]:
        """Fingerprints of the keys in the pool (never the keys)."""
        return [key_fingerprint(k) for k in self._keys]

    def exhausted_fingerprints(self, bucket: str = DEFAULT_BUCKET) -> list[str]:
        """Fingerprints of the keys whose quota in ``bucket`` is spent."""
        return [key_fingerprint(self._keys[i]) for i in sorted(self._exhausted.get(bucket, ()))]

    def exhausted_by_bucket(self) -> dict[str, list[str]]:
        """The fingerprints of the keys set aside for the day, per quota bucket."""
        return {bucket: self.exhausted_fingerprints(bucket) for bucket in self._exhausted}

    def current(self, bucket: str = DEFAULT_BUCKET) -> str:
        """The key for the next request in ``bucket``; QuotaExhausted when every key is spent there."""
        if not self.has_live_key(bucket):
            which = "" if bucket == DEFAULT_BUCKET else f" for {bucket}"
            raise QuotaExhausted(
                f"all {len(self._keys)} API key(s) are out of quota{which} for today "
                f"({', '.join(self.fingerprints)}); the quota resets at midnight US Pacific time",
                status=403,
                reason="quotaExceeded",
            )
        return self._keys[self._current.get(bucket, 0)]

    def mark_exhausted(self, key: str, bucket: str = DEFAULT_BUCKET) -> bool:
        """Set ``key`` aside in ``bucket`` and move on to the next live key; False when none is left."""
        try:
            index = self._keys.index(key)
        except ValueError:
            return self.has_live_key(bucket)
        spent = self._exhausted.setdefault(bucket, set())
        spent.add(index)
        if self._current.get(bucket, 0) in spent:
            for step in range(1, len(self._keys) + 1):
                candidate = (index + step) % len(self._keys)
                if candidate not in spent:
                    self._current[bucket] = candidate
                    break
        return self.has_live_key(bucket)

    def has_live_key(self, bucket: str = DEFAULT_BUCKET) -> bool:
        """Whether a key with quota left in ``bucket`` remains."""
        return len(self._exhausted.get(bucket, ())) < len(self._keys)
