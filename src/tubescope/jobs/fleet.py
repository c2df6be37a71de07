"""The fleet jobs over the Parquet lake: ``tubescope fleet kpis`` (Dask distributed, or DuckDB)
and ``tubescope fleet train`` (LightGBM's Dask integration)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tubescope.errors import ConfigError, StorageError
from tubescope.fleet import FleetKpis, fleet_kpis_dask, fleet_kpis_lake_duckdb
from tubescope.fleet.train import LakeTraining, train_on_lake

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


def run_fleet_train(
    lake: str,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    horizon_days: float = 7.0,
    trees: int = 200,
    folds: int = 3,
    out: Path | None = None,
) -> LakeTraining:
    """Train a view forecaster over the lake with ``lightgbm.DaskLGBMRegressor``.

    On the scheduler at ``scheduler`` or a LocalCluster of ``workers`` processes; ``folds``
    rolling origins are scored against the strongest naive baseline first. With ``out``, the
    LightGBM model is written there (text format).
    """
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    result = train_on_lake(
        lake, horizon_days=horizon_days, scheduler=scheduler, workers=workers, n_estimators=trees, folds=folds
    )
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            result.booster.save_model(str(out))
        except OSError as exc:
            raise StorageError(f"cannot write the model to {out}: {exc}") from None
    return result
