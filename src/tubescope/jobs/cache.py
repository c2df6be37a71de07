"""The cache tiers and the Redis connection that Settings describe, and run announcements.

The service builds its cache with :func:`open_settings_cache`; a job that lands a run calls
:func:`announce_run` so that every process sharing the cache (replicas on Redis, or a server on
the same host sharing the disk tier's folder) stops serving what was computed before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tubescope.cache import FLEET, CacheOptions, DiskGenerations, RedisGenerations, TieredCache, open_cache
from tubescope.config import Settings
from tubescope.errors import ConfigError

if TYPE_CHECKING:
    import redis

_MB = 1024 * 1024


def redis_client(settings: Settings) -> redis.Redis | None:
    """A client for ``settings.redis_url`` (None when unset); short timeouts so a stalled Redis
    costs a request milliseconds, not the whole worker. Connects lazily."""
    if not settings.redis_url:
        return None
    import redis as redis_lib

    try:
        return redis_lib.Redis.from_url(
            settings.redis_url,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            health_check_interval=30,
        )
    except ValueError:  # the URL itself is never repeated: it may hold a password
        raise ConfigError(
            "invalid TUBESCOPE_REDIS_URL: expected redis://host:port/db, rediss://… or unix://…"
        ) from None


def cache_dir(settings: Settings) -> Path | None:
    """The disk tier's folder: ``settings.cache_dir``, else ``<warehouse>.cache`` beside it."""
    if settings.cache_disk_max_mb == 0:
        return None
    if settings.cache_dir is not None:
        return settings.cache_dir
    return settings.db_path.with_name(settings.db_path.name + ".cache")


def cache_options(settings: Settings) -> CacheOptions:
    """Each tier's TTL and size bound from ``settings``."""
    return CacheOptions(
        memory_ttl_seconds=settings.cache_memory_ttl_seconds,
        memory_max_entries=settings.cache_memory_max_entries,
        memory_max_bytes=settings.cache_memory_max_mb * _MB,
        redis_ttl_seconds=settings.cache_redis_ttl_seconds,
        redis_max_bytes=settings.cache_redis_max_mb * _MB,
        disk_dir=cache_dir(settings),
        disk_ttl_seconds=settings.cache_disk_ttl_seconds,
        disk_max_bytes=settings.cache_disk_max_mb * _MB,
        prefix=settings.redis_prefix,
        generation_max_age_seconds=settings.cache_generation_max_age_seconds,
    )


def open_settings_cache(settings: Settings, client: redis.Redis | None = None) -> TieredCache:
    """The tiered cache ``settings`` describe (Redis through ``client`` when given)."""
    return open_cache(cache_options(settings), client)


def announce_run(settings: Settings, channel_ids: Iterable[str]) -> None:
    """A run landed for ``channel_ids``: bump their generations (and the fleet's) in the shared
    store, so every process stops serving older answers. Without Redis or a disk tier there is
    nothing shared to tell."""
    ids = [*dict.fromkeys(channel_ids), FLEET]
    client = redis_client(settings)
    if client is not None:
        try:
            RedisGenerations(client, prefix=settings.redis_prefix).bump(ids)
        finally:
            client.close()
        return
    folder = cache_dir(settings)
    if folder is not None and folder.is_dir():
        store = DiskGenerations(folder / "generations")
        try:
            store.bump(ids)
        finally:
            store.close()
