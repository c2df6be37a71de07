"""Fleet KPIs maintained when a run lands, so that a fleet query reads one row per channel.

The fleet KPI table (:mod:`tubescope.analysis.summary`) otherwise scans every snapshot row.
Here it is kept in the warehouse's ``channel_kpis`` table (migration 0010), incrementally:

- every write of statistics or videos marks its channels in ``channel_kpis_stale``, in the
  write's own transaction (:class:`~tubescope.warehouse.repository.Warehouse` does this), and a
  prune marks the channels it deletes from; archiving and restoring change nothing (the fleet
  table reads the hot tables and the cold archive together, before and after);
- :func:`refresh_channel_kpis` recomputes the rows of the stale channels only, with the fleet
  KPI SQL of the warehouse's engine reading each video's latest counts from ``videos.latest_*``
  (one row per video, kept by every snapshot write) instead of the snapshot history, and the
  channel snapshots hot and cold. The collector calls it in the transaction that closes a run,
  retention in the transaction that prunes;
- :func:`maintained_kpis` answers a fleet (or one channel's) query from ``channel_kpis`` when no
  channel it covers is stale and ``now`` is at or after every row's ``as_of``; otherwise it
  returns ``None`` and the caller scans, so an answer is never out of date.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from tubescope.analysis.kpi_sql import FLEET_KPI_COLUMNS, NO_CAP, fleet_kpis_sql, kpi_frame
from tubescope.analysis.kpis_postgres import fleet_kpis_postgres_sql
from tubescope.warehouse import archive as cold_archive
from tubescope.warehouse.repository import Warehouse

KPI_SCHEMA_VERSION = 10
"""The first schema version with ``channel_kpis`` (older warehouses are always scanned)."""

STALE_ALL = "*"
"""The stale mark that stands for every channel."""

_CHANNEL_SNAPSHOT_COLUMNS = ("channel_id", "observed_at", "subscriber_count", "view_count", "video_count")
_COLD = "_kpi_cold_channel_snapshots"
_ALL = "_kpi_all_channel_snapshots"
_COLUMNS = ", ".join(FLEET_KPI_COLUMNS)


def refresh_channel_kpis(warehouse: Warehouse, *, at: datetime) -> int:
    """Recompute the maintained KPI rows of the channels marked stale and clear their marks.

    Runs in the caller's transaction when one is open (it nests), so the rows change together
    with the data that made them stale. Returns the number of rows written. On PostgreSQL the
    marks table is locked first, so that a concurrent write's mark cannot be cleared before its
    data is visible here.
    """
    if warehouse.schema_version < KPI_SCHEMA_VERSION:
        return 0
    with warehouse.transaction() as con:
        if warehouse.backend != "duckdb":
            con.rows("LOCK TABLE channel_kpis_stale IN EXCLUSIVE MODE")
        stale = sorted({str(r[0]) for r in con.rows("SELECT DISTINCT channel_id FROM channel_kpis_stale")})
        if not stale:
            return 0
        every = STALE_ALL in stale
        cold = cold_archive.read_cold(
            warehouse, "channel_snapshots", _CHANNEL_SNAPSHOT_COLUMNS, channel_ids=None if every else stale
        )
        channel_snapshots = "channel_snapshots"
        if cold is not None:
            listed = ", ".join(_CHANNEL_SNAPSHOT_COLUMNS)
            con.stage(_COLD, cold)
            con.rows(
                f"CREATE TEMP VIEW {_ALL} AS SELECT {listed} FROM channel_snapshots"  # noqa: S608 -- fixed names
                f" UNION ALL SELECT {listed} FROM {_COLD}"
            )
            channel_snapshots = _ALL
        try:
            build = fleet_kpis_sql if warehouse.backend == "duckdb" else fleet_kpis_postgres_sql
            sql = build(
                channel_snapshots=channel_snapshots,
                latest_from_videos=True,
                channels_in=None if every else "channel_kpis_stale",
            )
            only = "" if every else " WHERE channel_id IN (SELECT channel_id FROM channel_kpis_stale)"
            con.rows(f"DELETE FROM channel_kpis{only}")  # noqa: S608 -- fixed text
            written = con.count(
                f"INSERT INTO channel_kpis ({_COLUMNS}, refreshed_at)"  # noqa: S608 -- fixed names
                f" SELECT {_COLUMNS}, CAST($refreshed_at AS TIMESTAMPTZ) FROM ({sql}) AS k",
                {"now": NO_CAP, "refreshed_at": at},
            )
            con.rows("DELETE FROM channel_kpis_stale")
        finally:
            if cold is not None:
                con.rows(f"DROP VIEW IF EXISTS {_ALL}")
                con.unstage(_COLD)
    return written


def maintained_kpis(
    warehouse: Warehouse, now: datetime | None = None, *, channel_id: str | None = None
) -> pd.DataFrame | None:
    """The fleet KPI table (or one channel's row) from the maintained rows, or ``None`` when
    they cannot give it: a channel it covers is stale, a row's ``as_of`` is after ``now``, or the
    warehouse predates them. The same table the full scan gives (see the module docstring)."""
    if warehouse.schema_version < KPI_SCHEMA_VERSION:
        return None
    where, params = ("WHERE channel_id = ?", [channel_id]) if channel_id is not None else ("", [])
    stale_where = "WHERE channel_id IN (?, ?)" if channel_id is not None else ""
    stale_params = [channel_id, STALE_ALL] if channel_id is not None else []
    found = warehouse.fetchone(f"SELECT count(*) FROM channel_kpis_stale {stale_where}", stale_params)  # noqa: S608
    if found is None or found[0]:
        return None
    frame = warehouse.query(
        f"SELECT {_COLUMNS} FROM channel_kpis {where} ORDER BY channel_id",  # noqa: S608 -- fixed names
        params,
    )
    table = kpi_frame(frame)
    if now is not None and now < NO_CAP and (table["as_of"] > pd.Timestamp(now)).any():
        return None
    return table.reset_index(drop=True)
