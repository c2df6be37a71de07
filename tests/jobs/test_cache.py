"""The cache Settings describe, and runs announced to it by a job in another process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tubescope.cache import TEXT
from tubescope.config import load_settings
from tubescope.errors import ConfigError
from tubescope.jobs.cache import announce_run, cache_dir, open_settings_cache, redis_client


def test_the_disk_tier_lives_beside_the_warehouse_unless_told(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert cache_dir(load_settings(db_path=db)) == tmp_path / "w.duckdb.cache"
    assert cache_dir(load_settings(db_path=db, cache_dir=tmp_path / "elsewhere")) == tmp_path / "elsewhere"
    assert cache_dir(load_settings(db_path=db, cache_disk_max_mb=0)) is None
    tiers = [s.tier for s in open_settings_cache(load_settings(db_path=db, cache_disk_max_mb=0)).stats()]
    assert tiers == ["memory"]


def test_a_run_announced_without_redis_reaches_a_server_on_this_host(tmp_path: Path) -> None:
    settings = load_settings(db_path=tmp_path / "w.duckdb")
    server = open_settings_cache(settings)
    server.get_or_compute("UCa", "analysis", lambda: "old", TEXT)
    server.get_or_compute("*", "channels", lambda: "old list", TEXT)
    announce_run(settings, ["UCa"])  # what `tubescope collect` does once its run landed
    assert server.get_or_compute("UCa", "analysis", lambda: "new", TEXT) == (False, "new")
    assert server.get_or_compute("*", "channels", lambda: "new list", TEXT) == (False, "new list")
    server.close()


def test_a_run_announced_through_redis_reaches_every_replica(tmp_path: Path, redis_url: str) -> None:
    settings = load_settings(
        db_path=tmp_path / "w.duckdb", redis_url=redis_url, cache_generation_max_age_seconds=0
    )
    client = redis_client(settings)
    assert client is not None
    replica = open_settings_cache(settings, client)
    assert [s.tier for s in replica.stats()] == ["memory", "redis", "disk"]
    replica.get_or_compute("UCa", "analysis", lambda: "old", TEXT)
    announce_run(settings, ["UCa"])
    assert replica.get("UCa", "analysis") == (False, None)
    replica.close()
    client.close()


def test_a_bad_redis_url_is_a_config_error_that_does_not_repeat_it() -> None:
    with pytest.raises(ConfigError) as caught:
        redis_client(load_settings(redis_url="http://user:s3cret@host:1/0"))
    assert "s3cret" not in str(caught.value)
