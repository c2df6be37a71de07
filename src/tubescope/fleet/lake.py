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

    def last_observed(self, channel_ids: Sequence[str]) -> pd.Timestamp | None:
        """The latest ``observed_at`` of these channels' snapshots (``None`` when there is none).

        Read from the Parquet footers' statistics where they are written (no data is read).
        """
        latest: list[pd.Timestamp] = []
        for table in ("video_snapshots", "channel_snapshots"):
            for channel_id in channel_ids:
                folder = self.store.path(f"{table}/{_PREFIX}{channel_id}")
                try:
                    dataset = ds.dataset(folder, filesystem=self.store.filesystem, format="parquet")
                except FileNotFoundError:
                    continue
                for fragment in dataset.get_fragments():
                    value = _max_observed(fragment)
                    if value is not None:
                        latest.append(pd.Timestamp(value))
        return max(latest) if latest else None


def _max_observed(fragment: Any) -> Any:
    """The largest ``observed_at`` in one Parquet file: its footer's statistics, else its data."""
    metadata = fragment.metadata
    names = metadata.schema.names
    if "observed_at" not in names:
        return None
    index = names.index("observed_at")
    found = []
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            column = fragment.to_table(columns=["observed_at"]).column("observed_at")
            return pc.max(column).as_py() if len(column) else None
        found.append(stats.max)
    return max(found) if found else None


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


def _group_kpis(uri: str, channel_ids: list[str], now: datetime) -> pd.DataFrame:
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


def _group_last_observed(uri: str, channel_ids: list[str]) -> pd.Timestamp | None:
    return Lake.open(uri).last_observed(channel_ids)


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
    with (
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


def fleet_kpis_dask(
    uri: str,
    now: datetime | None = None,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    channels_per_task: int = 16,
    client: Any = None,
) -> FleetKpis:
    """Fleet KPIs over the lake at ``uri`` with Dask distributed (same table as the DuckDB path).

    ``now`` defaults to the lake's last observation. Pass ``client`` to reuse a connected
    ``distributed.Client``; otherwise one is made for ``scheduler`` (or a LocalCluster).
    """
    if channels_per_task < 1:
        raise ConfigError(f"channels_per_task must be at least 1, got {channels_per_task}")
    lake = Lake.open(uri)
    groups = _groups(lake.channel_ids(), channels_per_task)
    if client is None:
        with dask_client(scheduler, workers=workers) as made:
            return _run(made, lake.store.uri, groups, now)
    return _run(client, lake.store.uri, groups, now)


def _run(client: Any, uri: str, groups: list[list[str]], now: datetime | None) -> FleetKpis:
    if now is None:
        latest = [
            t for t in client.gather(client.map(_group_last_observed, [uri] * len(groups), groups)) if t
        ]
        if not latest:
            raise StorageError(f"the lake at {uri} holds no snapshots")
        now = max(latest).to_pydatetime()
    parts = client.gather(client.map(_group_kpis, [uri] * len(groups), groups, now=now, pure=False))
    table = _combine(parts)
    workers = len(client.scheduler_info().get("workers", {}))
    return FleetKpis(table, now, "dask", len(groups), workers)


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
            if info.type == pafs.FileType.Directory and isinstance(
                lake.store.filesystem, pafs.LocalFileSystem
            ):
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
        if now is None:
            row = con.execute(
                "SELECT max(t) FROM (SELECT max(observed_at) AS t FROM video_snapshots"
                " UNION ALL SELECT max(observed_at) FROM channel_snapshots)"
            ).fetchone()
            if row is None or row[0] is None:
                raise StorageError(f"the lake at {lake.store.uri} holds no snapshots")
            now = row[0]
        assert now is not None
        kpis = fleet_kpis_duckdb(con, now)
    finally:
        con.close()
    return FleetKpis(kpis.reset_index(drop=True), now, "duckdb", 1, 1)
