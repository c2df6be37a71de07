"""Reading the Parquet lake per channel, and fleet KPIs over it with Dask or DuckDB."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyarrow import fs as pafs

from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.summary import FLEET_KPI_COLUMNS, fleet_kpis_duckdb
from tubescope.errors import ConfigError, StorageError
from tubescope.warehouse.objectstore import ObjectStore

_TS = pa.timestamp("us", tz="UTC")
LAKE_SCHEMAS: dict[str, pa.Schema] = {
    "video_snapshots": pa.schema(
        [
            ("video_id", pa.string()),
            ("channel_id", pa.string()),
            ("observed_at", _TS),
            ("view_count", pa.int64()),
            ("like_count", pa.int64()),
            ("comment_count", pa.int64()),
        ]
    ),
    "channel_snapshots": pa.schema(
        [
            ("channel_id", pa.string()),
            ("observed_at", _TS),
            ("subscriber_count", pa.int64()),
            ("view_count", pa.int64()),
            ("video_count", pa.int64()),
        ]
    ),
    "videos": pa.schema([("video_id", pa.string()), ("channel_id", pa.string()), ("published_at", _TS)]),
}
"""The columns fleet KPIs read from each lake table (the lake holds more)."""

_PREFIX = "channel_id="


@dataclass(frozen=True, slots=True)
class Lake:
    """A lake written by ``tubescope export``: ``<root>/<table>/channel_id=<id>/…/*.parquet``."""

    store: ObjectStore

    @classmethod
    def open(cls, uri: str) -> Lake:
        """Open the lake at ``uri`` (a folder, ``file://`` or ``s3://``); it must hold snapshots."""
        lake = cls(ObjectStore.open(uri))
        info = lake.store.filesystem.get_file_info(lake.store.path("video_snapshots"))
        if info.type != pafs.FileType.Directory:
            raise StorageError(
                f"no lake at {lake.store.uri}: expected a video_snapshots/ folder "
                "(write one with `tubescope export --out DIR`)"
            )
        return lake

    def channel_ids(self) -> list[str]:
        """Every channel with a partition in any of the tables fleet KPIs read."""
        found: set[str] = set()
        for table in LAKE_SCHEMAS:
            selector = pafs.FileSelector(self.store.path(table), allow_not_found=True)
            try:
                infos = self.store.filesystem.get_file_info(selector)
            except (OSError, pa.ArrowException) as exc:
                raise StorageError(f"listing {table} in {self.store.uri} failed: {exc}") from None
            for info in infos:
                if info.type == pafs.FileType.Directory and info.base_name.startswith(_PREFIX):
                    found.add(info.base_name[len(_PREFIX) :])
        return sorted(found)

    def read(self, table: str, channel_ids: Sequence[str], columns: Sequence[str] | None = None) -> pa.Table:
        """The rows of ``channel_ids`` in ``table`` (the columns of :data:`LAKE_SCHEMAS`)."""
        schema = LAKE_SCHEMAS[table]
        wanted = list(columns or schema.names)
        parts: list[pa.Table] = []
        for channel_id in channel_ids:
            folder = self.store.path(f"{table}/{_PREFIX}{channel_id}")
            try:
                dataset = ds.dataset(
                    folder, filesystem=self.store.filesystem, format="parquet", partitioning="hive"
                )
                stored = [c for c in wanted if c != "channel_id"]
                data = dataset.to_table(columns=stored)
            except FileNotFoundError:
                continue
            except (OSError, pa.ArrowException) as exc:
                raise StorageError(f"reading {table} of {channel_id} from {self.store.uri}: {exc}") from None
            if "channel_id" in wanted:
                data = data.append_column(
                    "channel_id", pa.repeat(pa.scalar(channel_id, pa.string()), data.num_rows)
                )
            parts.append(data.select(wanted).cast(pa.schema([schema.field(c) for c in wanted])))
        if not parts:
            return pa.schema([schema.field(c) for c in wanted]).empty_table()
        return pa.concat_tables(parts)

    def frames(self, channel_ids: Sequence[str], now: datetime | None = None) -> ChannelFrames:
        """The frames :func:`~tubescope.analysis.summary.fleet_kpis` reads, for ``channel_ids``.

        With ``now``, video snapshots are cut to each video's newest one at or before it: all
        that the fleet KPIs read of them (the same rows they would pick), at a fraction of the memory.
        """
        tables = {name: self.read(name, channel_ids) for name in LAKE_SCHEMAS}
        if now is not None:
            tables["video_snapshots"] = latest_per_video(tables["video_snapshots"], now)
        frame = {name: _to_frame(table) for name, table in tables.items()}
        channels = pd.DataFrame({"channel_id": pd.Series(list(channel_ids), dtype="object")})
        return ChannelFrames(channels, frame["videos"], frame["video_snapshots"], frame["channel_snapshots"])


def latest_per_video(snapshots: pa.Table, now: datetime) -> pa.Table:
    """Each video's newest snapshot observed at or before ``now`` (hidden counts kept as NULL)."""
    at = pa.scalar(pd.Timestamp(now).to_pydatetime(), snapshots.schema.field("observed_at").type)
    rows = snapshots.filter(pc.less_equal(snapshots.column("observed_at"), at))
    if rows.num_rows == 0:
        return rows
    # integer codes and times: a numpy lexsort instead of a string sort
    codes = pc.dictionary_encode(rows.column("video_id").combine_chunks()).indices.to_numpy()
    times = rows.column("observed_at").combine_chunks().cast(pa.int64()).to_numpy()
    order = np.lexsort((times, codes))
    ordered = codes[order]
    last = order[np.flatnonzero(np.append(ordered[1:] != ordered[:-1], True))]
    return rows.take(pa.array(last))


def _to_frame(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].astype("datetime64[ns, UTC]")
    return frame


def _group_kpis(uri: str, channel_ids: list[str], now: datetime | None) -> pd.DataFrame:
    """One task: the KPI rows of a group of channels, by the fleet KPI SQL in an in-memory DuckDB
    (one thread: the worker is the unit of parallelism) over the group's Arrow partitions."""
    import duckdb

    lake = Lake.open(uri)
    con = duckdb.connect(config={"threads": 1, "memory_limit": "512MB"})
    try:
        for table, schema in LAKE_SCHEMAS.items():
            if isinstance(lake.store.filesystem, pafs.LocalFileSystem):
                _local_view(con, lake, table, schema, channel_ids)
            else:
                con.register(table, lake.read(table, channel_ids))
        return fleet_kpis_duckdb(con, now)
    finally:
        con.close()


def _local_view(con: Any, lake: Lake, table: str, schema: pa.Schema, channel_ids: Sequence[str]) -> None:
    """``table`` as a view over the group's Parquet files, read by DuckDB's own reader (a local lake)."""
    folders = [lake.store.path(f"{table}/{_PREFIX}{c}") for c in channel_ids]
    patterns = [f"{folder}/**/*.parquet" for folder in folders if Path(folder).is_dir()]
    if not patterns:
        con.register(table, schema.empty_table())
        return
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in patterns)
    con.execute(
        f"CREATE VIEW {table} AS SELECT {', '.join(schema.names)} FROM read_parquet([{listed}],"  # noqa: S608
        " hive_partitioning = true, hive_types = {'channel_id': VARCHAR}, union_by_name = true)"
    )


def _has_parquet(folder: str) -> bool:
    return next(Path(folder).rglob("*.parquet"), None) is not None


@dataclass(frozen=True, slots=True)
class FleetKpis:
    """The fleet KPI table, the ``as_of`` it was computed at, and how."""

    table: pd.DataFrame
    as_of: datetime
    engine: str
    tasks: int
    workers: int


@contextmanager
def dask_client(scheduler: str | None, *, workers: int = 2, memory_limit: str = "1GiB") -> Iterator[Any]:
    """A distributed ``Client``: to ``scheduler`` when given, else to a LocalCluster of processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    import dask

    # The workers' sampling profiler (a stack every 10 ms) only feeds the dashboard, which a
    # LocalCluster here does not serve; the nannies hand this setting to the worker processes.
    with (
        dask.config.set({"distributed.worker.profile.enabled": False}),
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit=memory_limit,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


def _groups(channel_ids: Sequence[str], per_task: int) -> list[list[str]]:
    return [list(channel_ids[i : i + per_task]) for i in range(0, len(channel_ids), per_task)]


TASKS_PER_THREAD = 2
"""Tasks per worker thread when the group size is left to :func:`fleet_kpis_dask`: two even out
unequal channels, and few tasks keep Dask's per-task cost (a DuckDB connection, a round trip,
scheduling) small next to the work."""


def fleet_kpis_dask(
    uri: str,
    now: datetime | None = None,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    channels_per_task: int | None = None,
    client: Any = None,
) -> FleetKpis:
    """Fleet KPIs over the lake at ``uri`` with Dask distributed (same table as the DuckDB path).

    ``now`` defaults to the lake's last observation. Pass ``client`` to reuse a connected
    ``distributed.Client``; otherwise one is made for ``scheduler`` (or a LocalCluster).
    ``channels_per_task`` defaults to :data:`TASKS_PER_THREAD` tasks per worker thread.
    """
    if channels_per_task is not None and channels_per_task < 1:
        raise ConfigError(f"channels_per_task must be at least 1, got {channels_per_task}")
    lake = Lake.open(uri)
    if client is None:
        with dask_client(scheduler, workers=workers) as made:
            return _run(made, lake, channels_per_task, now)
    return _run(client, lake, channels_per_task, now)


def _run(client: Any, lake: Lake, channels_per_task: int | None, now: datetime | None) -> FleetKpis:
    channel_ids = lake.channel_ids()
    if channels_per_task is None:
        threads = max(1, sum(client.nthreads().values()))
        channels_per_task = max(1, -(-len(channel_ids) // (TASKS_PER_THREAD * threads)))
    groups = _groups(channel_ids, channels_per_task)
    uri = lake.store.uri
    # One round of tasks: without ``now`` every observation counts, which is what capping at
    # the lake's last observation means, and that time is the newest ``as_of`` in the table.
    parts = client.gather(client.map(_group_kpis, [uri] * len(groups), groups, now=now, pure=False))
    table = _combine(parts)
    workers = len(client.scheduler_info().get("workers", {}))
    return FleetKpis(table, now or lake_as_of(table, uri), "dask", len(groups), workers)


def lake_as_of(table: pd.DataFrame, uri: str) -> datetime:
    """The lake's last observation: the newest per-channel ``as_of`` of a KPI table computed
    without a cap (each channel's ``as_of`` is its own last snapshot, of either table)."""
    seen = table["as_of"].dropna() if "as_of" in table else pd.Series([], dtype=object)
    if seen.empty:
        raise StorageError(f"the lake at {uri} holds no snapshots")
    latest: datetime = pd.Timestamp(seen.max()).to_pydatetime()
    return latest


def _combine(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    present = [p for p in parts if len(p)]
    if not present:
        return pd.DataFrame({c: [] for c in FLEET_KPI_COLUMNS})
    table = pd.concat(present, ignore_index=True)
    return table.sort_values("channel_id").reset_index(drop=True)[list(FLEET_KPI_COLUMNS)]


def fleet_kpis_lake_duckdb(uri: str, now: datetime | None = None, *, memory_limit: str = "1GB") -> FleetKpis:
    """The same table computed in one DuckDB process over the lake's Parquet (the reference path)."""
    import duckdb

    lake = Lake.open(uri)
    con = duckdb.connect(config={"memory_limit": memory_limit, "threads": 2})
    try:
        for table, schema in LAKE_SCHEMAS.items():
            path = lake.store.path(table)
            info = lake.store.filesystem.get_file_info(path)
            columns = ", ".join(schema.names)
            local = isinstance(lake.store.filesystem, pafs.LocalFileSystem)
            if local and info.type == pafs.FileType.Directory and not _has_parquet(path):
                con.register(table, schema.empty_table())  # DuckDB refuses a glob matching nothing
            elif info.type == pafs.FileType.Directory and local:
                # a local lake: DuckDB's own Parquet reader, inside its memory limit
                pattern = (path + "/**/*.parquet").replace("'", "''")
                con.execute(
                    f"CREATE VIEW {table} AS SELECT {columns} FROM read_parquet('{pattern}',"  # noqa: S608
                    " hive_partitioning = true, hive_types = {'channel_id': VARCHAR}, union_by_name = true)"
                )
            elif info.type == pafs.FileType.Directory:
                dataset = ds.dataset(
                    path,
                    filesystem=lake.store.filesystem,
                    format="parquet",
                    partitioning=ds.partitioning(pa.schema([("channel_id", pa.string())]), flavor="hive"),
                    exclude_invalid_files=True,
                )
                con.register(f"_lake_{table}", dataset)
                con.execute(f"CREATE VIEW {table} AS SELECT {columns} FROM _lake_{table}")  # noqa: S608
            else:
                con.register(table, schema.empty_table())
        kpis = fleet_kpis_duckdb(con, now)
    finally:
        con.close()
    result = kpis.reset_index(drop=True)
    return FleetKpis(result, now or lake_as_of(result, lake.store.uri), "duckdb", 1, 1)
