"""Per-channel generations: the version folded into every cache key.

Invalidation works by versioned keys, not by deleting entries or by pub/sub. Each channel (and
the fleet pseudo channel) has a generation token; every key of every tier carries the token
current when it was stored. When a run lands, :meth:`Generations.bump` replaces the token, and
every tier of every replica misses the old entries from then on (other replicas within the
short time they reuse a token read from Redis): they are unreachable and age out under their
tier's TTL and size bound.

Why versioned keys rather than pub/sub clearing the memory tier:

- it is not lossy: a replica that was reconnecting, restarting or not yet started when the run
  landed still reads the new token on its next lookup. A pub/sub message missed is a stale
  answer served until the TTL;
- it covers the disk tier across restarts: a restarted server reads the same token from Redis
  (or from the disk store) and gets its warm entries back, while entries stored before a run
  stay unreachable;
- any process can invalidate with one atomic write and no subscription: a CLI collect, a queue
  worker or a replica.

The cost is one small read per lookup: a Redis GET (reused for a fraction of a second, so
other replicas see a run within that bound), or one ``stat`` for the disk store. Tokens are
random, not counters: if Redis loses its data (restarted without persistence), a missing token
is replaced by a new random one, so entries stored under the lost token can never be mistaken
for current ones.

Stores: :class:`RedisGenerations` (every replica, with Redis configured), :class:`DiskGenerations`
(processes on one host sharing the disk tier's directory; survives restarts), and
:class:`LocalGenerations` (one process, nothing shared).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

__all__ = ["DiskGenerations", "Generations", "LocalGenerations", "RedisGenerations"]


def _token() -> str:
    return secrets.token_hex(6)


class Generations(Protocol):
    """Where each channel's current generation token lives."""

    def current(self, channel_id: str) -> str:
        """The channel's token now (created on first use). Raises when the store is unreachable."""
        ...

    def bump(self, channel_ids: Iterable[str]) -> None:
        """Give each channel a new token: every entry stored under the old one is unreachable."""
        ...


class LocalGenerations:
    """Tokens in this process only (no Redis, no disk tier)."""

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def current(self, channel_id: str) -> str:
        """The channel's token, created on first use."""
        token = self._tokens.get(channel_id)
        if token is None:
            with self._lock:
                token = self._tokens.setdefault(channel_id, _token())
        return token

    def bump(self, channel_ids: Iterable[str]) -> None:
        """New tokens for ``channel_ids``."""
        with self._lock:
            for channel_id in channel_ids:
                self._tokens[channel_id] = _token()


class DiskGenerations:
    """Tokens in a diskcache directory: shared by the processes of one host, kept across restarts.

    Its own directory (never culled), beside the disk tier's entries. Reading SQLite on every
    lookup would cost tens of microseconds of the event loop per request, so each process keeps
    the tokens it read and asks the file system (one ``stat``) whether any changed: every bump
    appends one byte to a ``changes`` file after writing the new tokens, and a size this process
    has not seen drops what it kept.
    """

    def __init__(self, directory: Path) -> None:
        import diskcache

        self._store = diskcache.Cache(str(directory), eviction_policy="none")
        self._changes = directory / "changes"
        self._seen = -1
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def _changed_size(self) -> int:
        try:
            return self._changes.stat().st_size
        except FileNotFoundError:
            return 0

    def current(self, channel_id: str) -> str:
        """The channel's token, created on first use (``add`` wins once across processes)."""
        seen = self._changed_size()
        if seen != self._seen:
            with self._lock:
                self._tokens = {}
                self._seen = seen
        token = self._tokens.get(channel_id)
        if token is not None:
            return token
        stored = self._store.get(channel_id)
        if not isinstance(stored, str):
            self._store.add(channel_id, _token())
            stored = self._store.get(channel_id)
            if not isinstance(stored, str):
                raise sqlite3.OperationalError("the generation store lost a token it just wrote")
        with self._lock:
            if self._seen == seen:
                self._tokens[channel_id] = stored
        return stored

    def bump(self, channel_ids: Iterable[str]) -> None:
        """New tokens for ``channel_ids``, then one byte more in the changes file."""
        for channel_id in channel_ids:
            self._store.set(channel_id, _token())
        with self._changes.open("ab") as changes:
            changes.write(b".")

    def close(self) -> None:
        """Close the SQLite connections."""
        self._store.close()


class RedisGenerations:
    """Tokens in Redis under ``{prefix}gen:{channel}``: one set for every replica and worker.

    A token read is reused for ``max_age_seconds``: the memory tier's hits are answered on the
    event loop, and a Redis round trip there for every lookup would block it (under load, a
    round trip to another process costs milliseconds on a busy host). So another replica's run
    is seen within ``max_age_seconds``; this process's own invalidations are seen at once.
    """

    def __init__(
        self, client: redis.Redis, *, prefix: str = "tubescope:", max_age_seconds: float = 0.0
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}gen:"
        self.max_age_seconds = max_age_seconds
        self._read: dict[str, tuple[str, float]] = {}

    def current(self, channel_id: str) -> str:
        """The channel's token; a missing one (first use, or Redis lost its data) is created."""
        now = time.monotonic()
        known = self._read.get(channel_id)
        if known is not None and now - known[1] <= self.max_age_seconds:
            return known[0]
        key = self._prefix + channel_id
        token = self._client.get(key)
        if token is None:
            self._client.set(key, _token(), nx=True)
            token = self._client.get(key)
            if token is None:
                raise ConnectionError("Redis dropped a generation token it just stored")
        text = token.decode() if isinstance(token, bytes) else str(token)
        self._read[channel_id] = (text, now)
        return text

    def bump(self, channel_ids: Iterable[str]) -> None:
        """New tokens for ``channel_ids``, in one round trip."""
        fresh = {channel_id: _token() for channel_id in channel_ids}
        pipe = self._client.pipeline(transaction=False)
        for channel_id, token in fresh.items():
            pipe.set(self._prefix + channel_id, token)
        pipe.execute()
        now = time.monotonic()
        for channel_id, token in fresh.items():
            self._read[channel_id] = (token, now)
