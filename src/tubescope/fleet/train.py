"""Training a view forecaster over the lake with LightGBM's Dask integration.

For fleets whose training rows do not fit one process. Each Dask task reads the partitions of a
group of channels and builds their training rows with the forecaster's own feature pipeline
(:class:`~tubescope.predict.features.VideoFeatures` and
:func:`~tubescope.predict.model.training_rows`). Every feature there is the video's own channel's
history as of the video's publication, so a group of channels gets exactly the rows the whole
fleet would give them. The rows stay on the workers as a Dask DataFrame and
``lightgbm.DaskLGBMRegressor`` trains on them there (data-parallel across the workers), so no
process ever holds the whole training set.

The model forecasts log views at ``horizon_days`` as the naive baseline plus a boosted
correction (so it starts from the baseline and has to earn every change). It is checked by
rolling origin: at each origin it is trained on the rows whose target was known before the
origin and scored on the videos published in the next window, against the strongest naive
baseline of that window (the better of the channel's prior median of same-format videos, falling
back to the channel's prior median, and the training mean).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tubescope.analysis.frames import ChannelFrames
from tubescope.errors import ConfigError, DataQualityError, StorageError
from tubescope.fleet.lake import Lake, _groups, _to_frame, dask_client
from tubescope.predict.features import FEATURE_NAMES, VideoFeatures, to_seconds
from tubescope.predict.model import training_rows

_VIDEO_COLUMNS = (
    "video_id",
    "title",
    "published_at",
    "duration_seconds",
    "video_format",
    "tags",
    "category_id",
    "fetched_at",
)
"""What the features read of each lake video row (``tags`` becomes ``tag_count``)."""

TARGET = "log_views"
ROW_COLUMNS: tuple[str, ...] = (*FEATURE_NAMES, TARGET, "published_s", "known_s", "channel_id")
"""One training row: the features, the target, when the video was published and when its target
became known (seconds since :data:`EPOCH`, as the features count them), and its channel."""

EPOCH = pd.Timestamp("2000-01-01", tz="UTC")
"""The origin of ``published_s`` and ``known_s``."""


def _read(lake: Lake, table: str, channel_ids: Sequence[str], columns: Sequence[str]) -> pa.Table:
    """``columns`` of ``table`` for ``channel_ids`` (channel_id added from the partition)."""
    parts = []
    for channel_id in channel_ids:
        folder = lake.store.path(f"{table}/channel_id={channel_id}")
        try:
            dataset = ds.dataset(folder, filesystem=lake.store.filesystem, format="parquet")
            present = [c for c in columns if c in dataset.schema.names]
            data = dataset.to_table(columns=present)
        except FileNotFoundError:
            continue
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"reading {table} of {channel_id} from {lake.store.uri}: {exc}") from None
        parts.append(data.append_column("channel_id", pa.array([channel_id] * data.num_rows, pa.string())))
    if not parts:
        return pa.table({"channel_id": pa.array([], pa.string())})
    return pa.concat_tables(parts, promote_options="default")


def lake_frames(lake: Lake, channel_ids: Sequence[str]) -> ChannelFrames:
    """The frames the forecaster's features read, for ``channel_ids``, from the lake.

    A video exported more than once keeps its newest row (by ``fetched_at``), as in the warehouse.
    """
    videos = _read(lake, "videos", channel_ids, _VIDEO_COLUMNS)
    if videos.num_rows == 0:
        raise DataQualityError(f"the lake at {lake.store.uri} holds no videos for these channels")
    tags = videos.column("tags")
    counts = pc.fill_null(pc.list_value_length(tags), 0) if pa.types.is_list(tags.type) else None
    frame = _to_frame(videos.drop_columns(["tags"]))
    frame["tag_count"] = (
        counts.to_numpy(zero_copy_only=False).astype(np.int64) if counts is not None else np.zeros(len(frame))
    )
    frame["category_id"] = frame["category_id"].astype("string").astype(object)
    frame = (
        frame.sort_values(["video_id", "fetched_at"], kind="mergesort")
        .drop_duplicates("video_id", keep="last")
        .drop(columns=["fetched_at"])
        .reset_index(drop=True)
    )
    channels = _to_frame(_read(lake, "channels", channel_ids, ("published_at", "fetched_at")))
    if "published_at" in channels.columns:
        channels = channels.sort_values("fetched_at", kind="mergesort").drop_duplicates(
            "channel_id", keep="last"
        )
        channels = channels[["channel_id", "published_at"]].reset_index(drop=True)
    else:
        channels = pd.DataFrame({"channel_id": pd.Series(list(channel_ids), dtype=object)})
    snapshots = {
        name: _to_frame(lake.read(name, channel_ids)) for name in ("video_snapshots", "channel_snapshots")
    }
    return ChannelFrames(channels, frame, snapshots["video_snapshots"], snapshots["channel_snapshots"])


def _empty_rows() -> pd.DataFrame:
    columns: dict[str, Any] = {name: pd.Series(dtype="float64") for name in (*FEATURE_NAMES, TARGET)}
    columns["published_s"] = pd.Series(dtype="int64")
    columns["known_s"] = pd.Series(dtype="int64")
    columns["channel_id"] = pd.Series(dtype=object)
    return pd.DataFrame(columns)[list(ROW_COLUMNS)]


def rows_from_frames(frames: ChannelFrames, horizon_days: float, min_age_days: float) -> pd.DataFrame:
    """Training rows (:data:`ROW_COLUMNS`) of ``frames``: the forecaster's features and targets."""
    features = VideoFeatures(horizon_days=horizon_days).fit(frames)
    X, y, targets = training_rows(frames, features, min_age_days)
    if len(targets) == 0:
        return _empty_rows()
    rows = X.astype("float64").reset_index(drop=True)
    rows[TARGET] = y
    rows["published_s"] = to_seconds(targets["published_at"]).astype(np.int64)
    rows["known_s"] = targets["known_at_s"].to_numpy(dtype=np.int64)
    rows["channel_id"] = targets["channel_id"].astype(str).to_numpy(dtype=object)
    return rows[list(ROW_COLUMNS)]


def group_rows(uri: str, channel_ids: list[str], horizon_days: float, min_age_days: float) -> pd.DataFrame:
    """One Dask task: the training rows of a group of channels, read from the lake at ``uri``."""
    lake = Lake.open(uri)
    try:
        frames = lake_frames(lake, channel_ids)
    except DataQualityError:
        return _empty_rows()
    return rows_from_frames(frames, horizon_days, min_age_days)


@dataclass(frozen=True, slots=True)
class Fold:
    """One rolling origin: trained on targets known before ``origin``, scored on the next window."""

    origin: pd.Timestamp
    train_rows: int
    test_rows: int
    model_mae: float
    baseline_mae: float
    baseline: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "origin": self.origin.isoformat(),
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "model_mae_log_views": round(self.model_mae, 6),
            "baseline_mae_log_views": round(self.baseline_mae, 6),
            "baseline": self.baseline,
        }


@dataclass(frozen=True)
class LakeTraining:
    """A LightGBM model trained over the lake with Dask, and its rolling-origin evaluation."""

    booster: Any
    """The trained ``lightgbm.Booster`` (``booster.save_model(path)`` writes it). It forecasts the
    correction to :func:`naive_baseline`: see :meth:`predict`."""
    fallback: float
    """The training mean of log views: the naive baseline where a channel has no prior."""
    rows: int
    channels: int
    tasks: int
    workers: int
    horizon_days: float
    folds: list[Fold] = field(default_factory=list)

    def predict(self, rows: pd.DataFrame) -> np.ndarray[Any, Any]:
        """Forecast log views for training-style rows (the :data:`FEATURE_NAMES` columns)."""
        correction = np.asarray(self.booster.predict(rows[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)))
        forecast: np.ndarray[Any, Any] = naive_baseline(rows, self.fallback) + correction
        return forecast

    @property
    def model_mae(self) -> float | None:
        """Mean over folds of the model's MAE of log views (``None`` without folds)."""
        return float(np.mean([f.model_mae for f in self.folds])) if self.folds else None

    @property
    def baseline_mae(self) -> float | None:
        """Mean over folds of the strongest naive baseline's MAE of log views."""
        return float(np.mean([f.baseline_mae for f in self.folds])) if self.folds else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the booster itself is not included)."""
        return {
            "engine": "lightgbm.dask",
            "rows": self.rows,
            "channels": self.channels,
            "tasks": self.tasks,
            "workers": self.workers,
            "horizon_days": self.horizon_days,
            "trees": int(self.booster.num_trees()),
            "fallback_log_views": self.fallback,
            "model_mae_log_views": self.model_mae,
            "baseline_mae_log_views": self.baseline_mae,
            "folds": [f.as_dict() for f in self.folds],
        }


def naive_baseline(features: pd.DataFrame, fallback: float) -> np.ndarray[Any, Any]:
    """The channel's prior median of same-format videos, else of all its videos, else ``fallback``."""
    prior = features["prior_median"].to_numpy(dtype=np.float64)
    channel = features["channel_prior_median"].to_numpy(dtype=np.float64)
    return np.where(np.isfinite(prior), prior, np.where(np.isfinite(channel), channel, fallback))


def _regressor(client: Any, n_estimators: int, seed: int) -> Any:
    import lightgbm
    from lightgbm import DaskLGBMRegressor

    # LightGBM prints its notes to stdout unless given a logger; stdout carries the command's JSON
    lightgbm.register_logger(logging.getLogger("lightgbm"))

    return DaskLGBMRegressor(
        client=client,
        n_estimators=n_estimators,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=10,
        random_state=seed,
        verbose=-1,
    )


def _residual(rows: pd.DataFrame, fallback: float) -> pd.Series:
    """What the booster learns: log views less the naive baseline (it corrects the baseline)."""
    values = rows[TARGET].to_numpy(dtype=np.float64) - naive_baseline(rows, fallback)
    return pd.Series(values, index=rows.index, name="residual", dtype="float64")


def _fit(client: Any, rows: Any, n_estimators: int, seed: int) -> tuple[Any, float]:
    """The booster trained on ``rows`` (a Dask DataFrame) and the fallback level it corrects."""
    import dask.dataframe as dd

    fallback = float(rows[TARGET].mean().compute())
    # partitions left empty by a filter are dropped: LightGBM gives each worker only what it holds
    sizes = rows.map_partitions(len).compute()
    kept = [rows.get_partition(i) for i, n in enumerate(sizes) if n > 0]
    data = dd.concat(kept) if len(kept) > 1 else kept[0]  # type: ignore[no-untyped-call]
    target = data.map_partitions(_residual, fallback, meta=("residual", "float64"))
    model = _regressor(client, n_estimators, seed)
    model.fit(data[list(FEATURE_NAMES)], target)
    return model, fallback


def _evaluate(client: Any, rows: Any, n_estimators: int, folds: int, seed: int) -> list[Fold]:
    times = rows[["published_s"]].compute()["published_s"]
    low, high = int(times.min()), int(times.max()) + 1
    origins = [low + (high - low) * (folds + k) // (2 * folds) for k in range(folds + 1)]
    out: list[Fold] = []
    for origin, end in itertools.pairwise(origins):
        train = rows[rows["known_s"] < origin]
        test = rows[(rows["published_s"] >= origin) & (rows["published_s"] < end)].compute()
        n_train = len(train)
        if n_train < 50 or len(test) == 0:
            continue
        model, mean = _fit(client, train, n_estimators, seed)
        correction = np.asarray(model.to_local().predict(test[list(FEATURE_NAMES)]))
        predicted = naive_baseline(test, mean) + correction
        actual = test[TARGET].to_numpy(dtype=np.float64)
        candidates = {
            "channel prior median": naive_baseline(test, mean),
            "training mean": np.full(len(test), mean),
        }
        errors = {name: float(np.mean(np.abs(pred - actual))) for name, pred in candidates.items()}
        best = min(errors, key=lambda name: errors[name])
        out.append(
            Fold(
                EPOCH + pd.Timedelta(seconds=origin),
                n_train,
                len(test),
                float(np.mean(np.abs(predicted - actual))),
                errors[best],
                best,
            )
        )
    return out


def train_on_lake(
    uri: str,
    *,
    horizon_days: float = 7.0,
    min_age_days: float = 0.0,
    scheduler: str | None = None,
    workers: int = 2,
    channels_per_task: int = 16,
    n_estimators: int = 200,
    folds: int = 3,
    seed: int = 0,
    client: Any = None,
) -> LakeTraining:
    """Train a view forecaster over the lake at ``uri`` with ``lightgbm.DaskLGBMRegressor``.

    Runs on the scheduler at ``scheduler`` or on a LocalCluster of ``workers`` processes (or on
    ``client``). ``folds`` rolling origins are scored first; the returned model is then trained on
    every row.
    """
    if horizon_days <= 0:
        raise ConfigError(f"the horizon must be positive, got {horizon_days} days")
    if channels_per_task < 1 or n_estimators < 1 or folds < 0:
        raise ConfigError("channels_per_task and n_estimators must be at least 1, folds at least 0")
    lake = Lake.open(uri)
    groups = _groups(lake.channel_ids(), channels_per_task)
    if client is None:
        with dask_client(scheduler, workers=workers) as made:
            return _train(made, lake.store.uri, groups, horizon_days, min_age_days, n_estimators, folds, seed)
    return _train(client, lake.store.uri, groups, horizon_days, min_age_days, n_estimators, folds, seed)


def _train(
    client: Any,
    uri: str,
    groups: list[list[str]],
    horizon_days: float,
    min_age_days: float,
    n_estimators: int,
    folds: int,
    seed: int,
) -> LakeTraining:
    import dask.dataframe as dd
    from dask.delayed import delayed

    if not groups:
        raise DataQualityError(f"the lake at {uri} holds no channels")
    parts = [delayed(group_rows)(uri, group, horizon_days, min_age_days) for group in groups]
    rows = client.persist(dd.from_delayed(parts, meta=_empty_rows(), verify_meta=False))
    total = len(rows)
    if total < 50:
        raise DataQualityError(f"too few videos with a target at {horizon_days:g} days to train: {total}")
    evaluated = _evaluate(client, rows, n_estimators, folds, seed) if folds else []
    model, fallback = _fit(client, rows, n_estimators, seed)
    return LakeTraining(
        booster=model.booster_,
        fallback=fallback,
        rows=total,
        channels=sum(len(g) for g in groups),
        tasks=len(groups),
        workers=len(client.scheduler_info().get("workers", {})),
        horizon_days=horizon_days,
        folds=evaluated,
    )


__all__ = ["ROW_COLUMNS", "Fold", "LakeTraining", "lake_frames", "rows_from_frames", "train_on_lake"]
