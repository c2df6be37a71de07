"""The fleet job: ``tubescope fleet kpis`` over the Parquet lake (Dask distributed, or DuckDB)."""

from __future__ import annotations

from datetime import datetime

from tubescope.errors import ConfigError
from tubescope.fleet import FleetKpis, fleet_kpis_dask, fleet_kpis_lake_duckdb

ENGINES = ("dask", "duckdb")


def run_fleet_kpis(
    lake: str,
    *,
    scheduler: str | None = None,
    engine: str = "dask",
    workers: int = 2,
    now: datetime | None = None,
) -> FleetKpis:
    """Fleet KPIs over the lake at ``lake`` (a folder, ``file://`` or ``s3://``).

    ``dask`` runs on the scheduler at ``scheduler`` (``tcp://host:8786``) or on a LocalCluster of
    ``workers`` processes; ``duckdb`` runs in this process. ``now`` defaults to the lake's last
    observation. Both give the same table.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; use {' or '.join(ENGINES)}")
    if now is not None and now.tzinfo is None:
        raise ConfigError("--as-of needs a time zone")
    if engine == "duckdb":
        if scheduler:
            raise ConfigError("--scheduler is for the dask engine")
        return fleet_kpis_lake_duckdb(lake, now)
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    return fleet_kpis_dask(lake, now, scheduler=scheduler, workers=workers)
