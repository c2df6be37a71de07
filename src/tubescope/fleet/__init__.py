"""Fleet compute over the Parquet lake: Dask distributed (a LocalCluster, or a scheduler by address).

The lake is what ``tubescope export`` writes (``<lake>/<table>/channel_id=<id>/…``), on a local
folder or on object storage. Fleet KPIs are independent per channel, so each Dask task reads the
partitions of a group of channels and computes their rows with the same fleet KPI SQL the
warehouse uses (:func:`tubescope.analysis.summary.fleet_kpis_duckdb`, in a one-thread in-memory
DuckDB inside the worker); no task ever holds more than its group.
:func:`fleet_kpis_lake_duckdb` computes the same table in one DuckDB process.
:mod:`tubescope.fleet.train` trains a view forecaster over the lake with LightGBM's Dask integration.
"""

from tubescope.fleet.lake import (
    FleetKpis,
    Lake,
    fleet_kpis_dask,
    fleet_kpis_lake_duckdb,
)

__all__ = ["FleetKpis", "Lake", "fleet_kpis_dask", "fleet_kpis_lake_duckdb"]
