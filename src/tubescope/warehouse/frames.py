"""SQL behind :meth:`Warehouse.load_frames` and the Arrow → pandas conversion of its results.

Columns follow :mod:`tubescope.domain.frames`. Latest counts per video are kept on the
``videos`` row at write time; conversion goes through Arrow with ``self_destruct`` so a frame of ten million
snapshots is never held twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa

from tubescope.domain.frames import (
    CHANNEL_COLUMNS,
    CHANNEL_SNAPSHOT_COLUMNS,
    VIDEO_COLUMNS,
    VIDEO_SNAPSHOT_COLUMNS,
)
from tubescope.warehouse.backend import Dialect
from tubescope.warehouse.duckdb_backend import DIALECT as DUCKDB_DIALECT

FRAME_NAMES = ("channels", "videos", "video_snapshots", "channel_snapshots")

CHANNELS_SQL = """
SELECT channel_id, title, handle, published_at, subscriber_count, hidden_subscriber_count,
       view_count, video_count, country, default_language, uploads_playlist_id,
       first_seen_run_id, run_id, fetched_at
FROM channels {where}
ORDER BY channel_id
"""

_VIDEOS_TEMPLATE = """
SELECT video_id, channel_id, title, published_at,
       CAST(duration_seconds AS FLOAT8) AS duration_seconds, video_format,
       array_to_string(tags, '|') AS tags, {tag_count} AS tag_count,
       category_id, latest_view_count AS view_count, latest_like_count AS like_count,
       latest_comment_count AS comment_count, is_deleted, deleted_at, deleted_reason,
       duration_raw, default_language, live_broadcast_content, privacy_status,
       latest_observed_at, first_seen_run_id, run_id, fetched_at
FROM videos {where}
ORDER BY channel_id, published_at, video_id
"""


def videos_sql(dialect: Dialect, where: str) -> str:
    """The ``videos`` frame query in ``dialect`` (the tag count is the only difference)."""
    return _VIDEOS_TEMPLATE.format(tag_count=dialect.tag_count, where=where)


VIDEOS_SQL = _VIDEOS_TEMPLATE.replace("{tag_count}", DUCKDB_DIALECT.tag_count)
"""The DuckDB ``videos`` frame query, with a ``{where}`` slot (prefer :func:`videos_sql`)."""

VIDEO_SNAPSHOTS_SQL = """
SELECT video_id, channel_id, observed_at, view_count, like_count, comment_count
FROM video_snapshots {where}
ORDER BY channel_id, video_id, observed_at
"""

CHANNEL_SNAPSHOTS_SQL = """
SELECT channel_id, observed_at, subscriber_count, view_count, video_count
FROM channel_snapshots {where}
ORDER BY channel_id, observed_at
"""

SNAPSHOT_ORDER: dict[str, tuple[str, ...]] = {
    "video_snapshots": ("channel_id", "video_id", "observed_at"),
    "channel_snapshots": ("channel_id", "observed_at"),
}
"""The row order of the two snapshot frames (their SQL's ORDER BY), kept when cold rows join."""

_NON_NULLABLE_INTS = {"tag_count", "first_seen_run_id", "run_id"}


def where_clause(
    channel_ids: Sequence[str] | None,
    since: datetime | None,
    *,
    time_column: str | None,
    alias: str = "",
) -> tuple[str, list[Any]]:
    """A WHERE with literal placeholders: DuckDB pushes IN-lists and ranges into the scan (and
    PostgreSQL uses its indexes for them)."""
    prefix = f"{alias}." if alias else ""
    parts: list[str] = []
    params: list[Any] = []
    if channel_ids is not None:
        if not channel_ids:
            parts.append("false")
        else:
            parts.append(f"{prefix}channel_id IN ({', '.join('?' for _ in channel_ids)})")
            params.extend(channel_ids)
    if since is not None and time_column is not None:
        parts.append(f"{prefix}{time_column} >= ?")
        params.append(since)
    return ("WHERE " + " AND ".join(parts) if parts else ""), params


def _to_ns_utc(table: pa.Table) -> pa.Table:
    for index, column in enumerate(table.schema):
        if pa.types.is_timestamp(column.type):
            table = table.set_column(
                index, column.name, table.column(index).cast(pa.timestamp("ns", tz="UTC"))
            )
    return table


def arrow_to_frame(table: pa.Table, columns: Sequence[str]) -> pd.DataFrame:
    """pandas with nullable ``Int64`` counts and ``datetime64[ns, UTC]`` timestamps."""
    table = _to_ns_utc(table)
    frame: pd.DataFrame = table.to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype()}.get,
        self_destruct=True,
        split_blocks=True,
    )
    del table
    for name in _NON_NULLABLE_INTS & set(frame.columns):
        if not frame[name].isna().any():
            frame[name] = frame[name].astype("int64")
    missing = [c for c in columns if c not in frame.columns]
    if missing:  # a programming error: the SQL and the documented contract disagree
        raise AssertionError(f"frame lacks documented columns {missing}")
    return frame


CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "channels": CHANNEL_COLUMNS,
    "videos": VIDEO_COLUMNS,
    "video_snapshots": VIDEO_SNAPSHOT_COLUMNS,
    "channel_snapshots": CHANNEL_SNAPSHOT_COLUMNS,
}
