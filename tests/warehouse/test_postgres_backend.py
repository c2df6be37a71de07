"""The PostgreSQL backend's connection pool: sized by ``TUBESCOPE_DB_POOL_SIZE``, on a real server."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from psycopg_pool import PoolTimeout

from tubescope.config import load_settings
from tubescope.jobs.common import warehouse_target
from tubescope.warehouse import Warehouse
from tubescope.warehouse import postgres_backend as pgb
from tubescope.warehouse.target import DEFAULT_POOL_SIZE, PostgresTarget


def test_the_pool_holds_at_most_the_configured_connections(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUBESCOPE_DB_URL", postgres_url)
    monkeypatch.setenv("TUBESCOPE_DB_POOL_SIZE", "3")
    settings = load_settings()
    target = settings.warehouse_target
    assert isinstance(target, PostgresTarget) and target.pool_size == 3
    assert target == PostgresTarget(postgres_url)  # the size is no part of which database it is
    with ExitStack() as held:
        for _ in range(3):
            held.enter_context(Warehouse.open(target))
        pool = pgb._pools[postgres_url]
        assert pool.get_stats()["pool_max"] == 3
        with pytest.raises(PoolTimeout):  # a fourth connection would go past the setting
            pool.getconn(timeout=0.5)
    pgb.close_pools(target)


def test_a_db_flag_takes_the_pool_size_from_the_settings(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUBESCOPE_DB_POOL_SIZE", "4")
    target = warehouse_target(postgres_url, load_settings())
    assert isinstance(target, PostgresTarget) and target.pool_size == 4
    monkeypatch.delenv("TUBESCOPE_DB_POOL_SIZE")
    assert load_settings(db_path=postgres_url).db_pool_size == DEFAULT_POOL_SIZE


def test_a_pool_size_below_one_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tubescope.errors import ConfigError

    monkeypatch.setenv("TUBESCOPE_DB_POOL_SIZE", "0")
    with pytest.raises(ConfigError, match="db_pool_size"):
        load_settings()
