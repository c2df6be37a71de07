"""Cold archive: snapshot rows moved to Parquet on object storage, and read back transparently.

Layout under the archive location (one location per warehouse)::

    <table>/month=<YYYY-MM>/<segment>.parquet     the rows, grouped by channel (hot order within one)
    _manifests/<table>/<segment>.json             rows, time range, bytes and SHA-256 of the data

The warehouse's ``archive_segments`` table is the authority. One segment is one month of one
table, archived in four steps, each safe to be killed at:

1. a ``pending`` row naming the segment's objects is committed (so a killed run's objects can
   be found and removed);
2. the Parquet object and then the manifest are written and read back: sizes, SHA-256 and the
   Parquet row count must match what was written;
3. one transaction deletes exactly the archived rows from the hot table (by their identity:
   key, run and observation time; the count must equal the segment's), records the object's
   size and SHA-256 and marks the segment ``active``;
4. the next archive or restore removes what a killed run left ``pending``.

Step 2 of one segment runs on an upload thread while the next segment is read (step 1), so
the warehouse and the object store work at the same time; the warehouse is only touched by
the calling thread.

Readers use active segments only, so at every instant each row is hot or cold, never both and
never neither. Each key's newest row stays hot (as a prune keeps it), so the "latest counts"
queries never need the archive. :func:`restore` brings a time range back in one transaction per
segment: it inserts the rows and records the range in ``archive_restores``, which readers then
skip in that segment.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tubescope.errors import ConfigError, StorageError
from tubescope.warehouse.objectstore import ObjectStore, StoredObject
from tubescope.warehouse.repository import Warehouse

_TS = pa.timestamp("us", tz="UTC")
MANIFEST_FORMAT = "tubescope-archive/1"


@dataclass(frozen=True, slots=True)
class ArchiveTable:
    """An archivable table: its key, the columns that identify a row, and its columns."""

    name: str
    key: str
    schema: pa.Schema
    identity: tuple[str, ...] = field(default=())

    @property
    def columns(self) -> tuple[str, ...]:
        """The table's column names."""
        return tuple(self.schema.names)


ARCHIVE_TABLES: dict[str, ArchiveTable] = {
    "video_snapshots": ArchiveTable(
        "video_snapshots",
        "video_id",
        pa.schema(
            [
                ("video_id", pa.string()),
                ("channel_id", pa.string()),
                ("run_id", pa.int64()),
                ("observed_at", _TS),
                ("view_count", pa.int64()),
                ("like_count", pa.int64()),
                ("comment_count", pa.int64()),
                ("source", pa.string()),
                ("fetched_at", _TS),
                ("likes_hidden", pa.bool_()),
                ("comments_hidden", pa.bool_()),
            ]
        ),
        ("video_id", "run_id", "observed_at"),
    ),
    "channel_snapshots": ArchiveTable(
        "channel_snapshots",
        "channel_id",
        pa.schema(
            [
                ("channel_id", pa.string()),
                ("run_id", pa.int64()),
                ("observed_at", _TS),
                ("subscriber_count", pa.int64()),
                ("view_count", pa.int64()),
                ("video_count", pa.int64()),
                ("source", pa.string()),
                ("fetched_at", _TS),
                ("subscribers_hidden", pa.bool_()),
            ]
        ),
        ("channel_id", "run_id", "observed_at"),
    ),
}

StepCallback = Callable[[str, str], None]
"""Called as ``(step, segment_id)`` after each durable step (tests kill the process there)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One row of ``archive_segments``."""

    segment_id: str
    table: str
    state: str
    location: str
    data_path: str
    manifest_path: str
    rows: int
    bytes: int
    sha256: str
    min_observed_at: datetime
    max_observed_at: datetime


_SEGMENT_COLUMNS = (
    "segment_id, table_name, state, location, data_path, manifest_path, row_count, byte_count,"
    " sha256, min_observed_at, max_observed_at"
)


def _segment(row: Sequence[Any]) -> Segment:
    return Segment(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        str(row[5]),
        int(row[6]),
        int(row[7]),
        str(row[8]),
        _aware(row[9]),
        _aware(row[10]),
    )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ArchiveOutcome:
    """What one archive run moved."""

    location: str
    cutoff: datetime
    segments: tuple[Segment, ...]
    cleaned: int

    @property
    def rows(self) -> int:
        """Rows archived in all segments."""
        return sum(s.rows for s in self.segments)

    @property
    def bytes(self) -> int:
        """Bytes written in all segments."""
        return sum(s.bytes for s in self.segments)


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    """What one restore brought back, per table."""

    start: datetime
    end: datetime
    rows: dict[str, int]
    cleaned: int


# -- the registry -------------------------------------------------------------------------------


def segments(warehouse: Warehouse, table: str | None = None, *, state: str = "active") -> list[Segment]:
    """Segments in the registry (``[]`` for a warehouse whose schema predates the archive)."""
    where = "WHERE state = ?" + (" AND table_name = ?" if table else "")
    params: list[Any] = [state, table] if table else [state]
    try:
        rows = warehouse.fetchall(
            f"SELECT {_SEGMENT_COLUMNS} FROM archive_segments {where} ORDER BY min_observed_at, segment_id",  # noqa: S608
            params,
        )
    except StorageError:
        return []
    except Exception as exc:  # a driver error on an old schema: no archive there
        if "archive_segments" in str(exc):
            return []
        raise
    return [_segment(r) for r in rows]


def _restored_ranges(warehouse: Warehouse, ids: Sequence[str]) -> dict[str, list[tuple[datetime, datetime]]]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = warehouse.fetchall(
        f"SELECT segment_id, from_at, to_at FROM archive_restores WHERE segment_id IN ({marks})",  # noqa: S608
        list(ids),
    )
    ranges: dict[str, list[tuple[datetime, datetime]]] = {}
    for segment_id, start, end in rows:
        ranges.setdefault(str(segment_id), []).append((_aware(start), _aware(end)))
    return ranges


def clean_pending(warehouse: Warehouse) -> int:
    """Remove what killed archive runs left: their objects, then their ``pending`` rows."""
    left = segments(warehouse, state="pending")
    for segment in left:
        store = ObjectStore.open(segment.location)
        folder = segment.data_path.rsplit("/", 1)[0]
        for path in store.list(folder):
            if path.rsplit("/", 1)[-1].startswith(segment.segment_id):
                store.delete(path)
        store.delete(segment.manifest_path)
        with warehouse.transaction() as backend:
            backend.count(
                "DELETE FROM archive_segments WHERE segment_id = ? AND state = 'pending'",
                [segment.segment_id],
            )
    return len(left)


# -- archive ------------------------------------------------------------------------------------


def _month_start(at: datetime) -> datetime:
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def _next_month(at: datetime) -> datetime:
    return datetime(at.year + (at.month == 12), at.month % 12 + 1, 1, tzinfo=UTC)


def _last_observed_sql(spec: ArchiveTable) -> str:
    # Each key's newest row stays hot, so the latest-counts queries never need the archive.
    # Computed once a run: rows landing later only make more rows archivable, never fewer.
    return (
        f"SELECT {spec.key} AS k, max(observed_at) AS last_at FROM {spec.name}"  # noqa: S608 -- fixed names
        f" GROUP BY {spec.key} HAVING min(observed_at) < ?"
    )


def _archivable_sql(spec: ArchiveTable) -> str:
    columns = ", ".join(f"t.{c}" for c in spec.columns)
    return f"""
SELECT {columns}
FROM {spec.name} t JOIN _archive_last m ON t.{spec.key} = m.k
WHERE t.observed_at >= ? AND t.observed_at < ? AND t.observed_at < m.last_at
"""  # noqa: S608 -- fixed names


def cluster_by_channel(rows: pa.Table) -> pa.Table:
    """``rows`` grouped by ``channel_id`` in ascending order, keeping their order within a channel.

    One channel's rows then sit in few row groups, whose statistics let a per-channel cold read
    skip the rest. A stable integer sort of the channels' dictionary ranks costs a fraction of
    a string sort over every row.
    """
    if rows.num_rows == 0:
        return rows
    encoded = pc.dictionary_encode(rows.column("channel_id").combine_chunks())
    names = encoded.dictionary.to_numpy(zero_copy_only=False)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(names, kind="stable")] = np.arange(len(names))
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(rank[codes], kind="stable")
    return rows.take(pa.array(order))


ROW_GROUP_ROWS = 1_000_000
"""Rows per Parquet row group: per-channel reads skip the groups whose channel range misses."""


_FILTERED = frozenset({"video_id", "channel_id", "run_id", "observed_at"})
"""Columns readers filter or match on: their row groups carry min/max statistics."""


def _parquet_bytes(table: pa.Table) -> pa.Buffer:
    import pyarrow.parquet as pq  # see _read_segment

    names = table.schema.names
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=[c for c in names if c in _FILTERED],
        # counts rarely repeat: a dictionary for them is built only to be dropped
        use_dictionary=[c for c in names if not c.endswith("_count")],
    )
    return sink.getvalue()


def _manifest(segment: Segment, stored: StoredObject, archived_at: datetime) -> bytes:
    document = {
        "format": MANIFEST_FORMAT,
        "segment_id": segment.segment_id,
        "table": segment.table,
        "rows": segment.rows,
        "min_observed_at": segment.min_observed_at.isoformat(),
        "max_observed_at": segment.max_observed_at.isoformat(),
        "archived_at": archived_at.isoformat(),
        "files": [
            {"path": stored.path, "rows": segment.rows, "bytes": stored.bytes, "sha256": stored.sha256}
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class _Uploading:
    """A segment on the upload thread: what its activation needs, and not its other columns
    (the thread drops the rows when it is done with them, so at most two segments are held)."""

    keys: pa.Table
    start: datetime
    end: datetime
    written: Future[Segment]


@dataclass(frozen=True, slots=True)
class _Selected:
    """A segment's rows read from the hot table, registered ``pending`` before any upload."""

    segment: Segment
    rows: pa.Table
    start: datetime
    end: datetime


def _select_segment(
    warehouse: Warehouse,
    store: ObjectStore,
    spec: ArchiveTable,
    last: pa.Table,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    on_step: StepCallback | None,
) -> _Selected | None:
    """Read the archivable rows of ``[start, end)`` and commit their ``pending`` registry row.

    The pending row names the objects before they exist, so a killed run's uploads can be
    found; their size and checksum are recorded when the segment turns active.
    """
    with warehouse.transaction() as backend:
        # staged inside the transaction: a leased warehouse reopens its file when one begins
        backend.stage("_archive_last", last)
        try:
            rows = backend.arrow(_archivable_sql(spec), [start, end])
        finally:
            backend.unstage("_archive_last")
    if rows.num_rows == 0:
        return None
    rows = cluster_by_channel(rows.cast(spec.schema))
    month = start.strftime("%Y-%m")
    segment_id = f"{spec.name}-{month}-{uuid.uuid4().hex[:12]}"
    bounds = pc.min_max(rows.column("observed_at"))
    segment = Segment(
        segment_id=segment_id,
        table=spec.name,
        state="pending",
        location=store.uri,
        data_path=f"{spec.name}/month={month}/{segment_id}.parquet",
        manifest_path=f"_manifests/{spec.name}/{segment_id}.json",
        rows=rows.num_rows,
        bytes=0,
        sha256="",
        min_observed_at=_aware(bounds["min"].as_py()),
        max_observed_at=_aware(bounds["max"].as_py()),
    )
    with warehouse.transaction() as backend:
        backend.count(
            f"INSERT INTO archive_segments ({_SEGMENT_COLUMNS}, archived_at)"  # noqa: S608
            " VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                segment.segment_id,
                segment.table,
                segment.location,
                segment.data_path,
                segment.manifest_path,
                segment.rows,
                segment.bytes,
                segment.sha256,
                segment.min_observed_at,
                segment.max_observed_at,
                now,
            ],
        )
    if on_step:
        on_step("pending", segment_id)
    return _Selected(segment, rows, start, end)


def _store_segment(
    store: ObjectStore, selected: _Selected, *, now: datetime, on_step: StepCallback | None
) -> Segment:
    """Encode, upload and read back one segment and its manifest (no warehouse access: this
    runs on the upload thread while the next segment is read)."""
    segment = selected.segment
    data = _parquet_bytes(selected.rows)
    stored = store.put(segment.data_path, data)
    if on_step:
        on_step("uploaded", segment.segment_id)
    check = store.verify(stored)
    import pyarrow.parquet as pq  # see _read_segment

    if pq.read_metadata(pa.BufferReader(check)).num_rows != segment.rows:
        raise StorageError(
            f"{segment.data_path} on {store.uri} does not hold the {segment.rows} rows written"
        )
    written = Segment(**{**_fields(segment), "bytes": stored.bytes, "sha256": stored.sha256})
    manifest = store.put(segment.manifest_path, _manifest(written, stored, now))
    store.verify(manifest)
    if on_step:
        on_step("verified", segment.segment_id)
    return written


def _activate_segment(
    warehouse: Warehouse,
    spec: ArchiveTable,
    uploading: _Uploading,
    *,
    on_step: StepCallback | None,
) -> Segment:
    """Delete exactly the archived rows from the hot table and mark the segment active, together."""
    written = uploading.written.result()
    keys = uploading.keys
    match = " AND ".join(f"t.{c} = k.{c}" for c in spec.identity)
    segment_id = written.segment_id
    with warehouse.transaction() as backend:
        backend.stage("_archive_keys", keys)
        try:
            # the time range lets the engine skip the rest of the table before the key join
            deleted = backend.count(
                f"DELETE FROM {spec.name} t USING _archive_keys k"  # noqa: S608
                f" WHERE t.observed_at >= ? AND t.observed_at < ? AND {match}",
                [uploading.start, uploading.end],
            )
            if deleted != written.rows:
                raise StorageError(
                    f"archiving {segment_id}: {deleted} hot rows matched, expected {written.rows};"
                    " nothing removed"
                )
            backend.count(
                "UPDATE archive_segments SET state = 'active', byte_count = ?, sha256 = ?"
                " WHERE segment_id = ?",
                [written.bytes, written.sha256, segment_id],
            )
        finally:
            backend.unstage("_archive_keys")
    if on_step:
        on_step("active", segment_id)
    return Segment(**{**_fields(written), "state": "active"})


def _fields(segment: Segment) -> dict[str, Any]:
    return {name: getattr(segment, name) for name in Segment.__dataclass_fields__}


def archive(
    warehouse: Warehouse,
    location: str,
    cutoff: datetime,
    *,
    tables: Sequence[str] = tuple(ARCHIVE_TABLES),
    now: datetime | None = None,
    on_step: StepCallback | None = None,
) -> ArchiveOutcome:
    """Move snapshot rows observed before ``cutoff`` to ``location`` (one segment per month).

    Raises :class:`ConfigError` for an unknown table or a location other than the one this
    warehouse already archives to, :class:`StorageError` when the storage refuses.
    """
    if cutoff.tzinfo is None:
        raise ConfigError("the archive cutoff needs a time zone")
    specs = [_spec(t) for t in tables]
    store = ObjectStore.open(location)
    known = {s.location for s in segments(warehouse)}
    if known and store.uri not in known:
        raise ConfigError(
            f"this warehouse archives to {', '.join(sorted(known))}; one location per warehouse "
            f"(restore first to move elsewhere), not {store.uri}"
        )
    cleaned = clean_pending(warehouse)
    at = now or datetime.now(UTC)
    done: list[Segment] = []
    # One upload thread: segment N is encoded, uploaded and verified while this thread reads
    # segment N+1 (pyarrow and DuckDB release the GIL); at most two segments are in memory.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tubescope-archive") as uploader:
        for spec in specs:
            last = warehouse.query_arrow(_last_observed_sql(spec), [cutoff])
            if last.num_rows == 0:
                continue
            first = f"SELECT min(observed_at) FROM {spec.name} WHERE observed_at < ?"  # noqa: S608
            row = warehouse.fetchone(first, [cutoff])
            if not row or row[0] is None:
                continue
            start = _month_start(_aware(row[0]))
            in_flight: _Uploading | None = None
            while start < cutoff:
                end = min(_next_month(start), cutoff)
                selected = _select_segment(warehouse, store, spec, last, start, end, now=at, on_step=on_step)
                if in_flight is not None:
                    done.append(_activate_segment(warehouse, spec, in_flight, on_step=on_step))
                    in_flight = None
                if selected is not None:
                    in_flight = _Uploading(
                        selected.rows.select(list(spec.identity)),
                        start,
                        end,
                        uploader.submit(_store_segment, store, selected, now=at, on_step=on_step),
                    )
                    del selected  # only the upload thread holds the segment's rows now
                start = end
            if in_flight is not None:
                done.append(_activate_segment(warehouse, spec, in_flight, on_step=on_step))
    return ArchiveOutcome(store.uri, cutoff, tuple(done), cleaned)


def _spec(table: str) -> ArchiveTable:
    try:
        return ARCHIVE_TABLES[table]
    except KeyError:
        raise ConfigError(
            f"cannot archive {table!r}; archivable tables: {', '.join(ARCHIVE_TABLES)}"
        ) from None


# -- reading and restoring ----------------------------------------------------------------------


def _read_segment(
    segment: Segment,
    columns: Sequence[str],
    *,
    channel_ids: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
    skip: Sequence[tuple[datetime, datetime]],
) -> pa.Table:
    # pyarrow's dataset and Parquet modules are imported where a segment is read or written:
    # every frame load asks whether anything is archived (usually nothing), and a report or an
    # analysis would otherwise import them for nothing.
    import pyarrow.dataset as ds

    store = ObjectStore.open(segment.location)
    observed = ds.field("observed_at")
    condition: ds.Expression | None = None

    def both(extra: ds.Expression) -> None:
        nonlocal condition
        condition = extra if condition is None else condition & extra

    if channel_ids is not None:
        both(ds.field("channel_id").isin(pa.array(list(channel_ids), pa.string())))
    if since is not None:
        both(observed >= pa.scalar(since, _TS))
    if until is not None:
        both(observed < pa.scalar(until, _TS))
    for start, end in skip:
        both(~((observed >= pa.scalar(start, _TS)) & (observed < pa.scalar(end, _TS))))
    try:
        dataset = ds.dataset(store.path(segment.data_path), filesystem=store.filesystem, format="parquet")
        return dataset.to_table(columns=list(columns), filter=condition)
    except FileNotFoundError:
        raise StorageError(f"archive segment {segment.data_path} is missing from {store.uri}") from None
    except (OSError, pa.ArrowException) as exc:
        raise StorageError(f"reading {segment.data_path} from {store.uri} failed: {exc}") from None


def read_cold(
    warehouse: Warehouse,
    table: str,
    columns: Sequence[str],
    *,
    channel_ids: Sequence[str] | None = None,
    since: datetime | None = None,
) -> pa.Table | None:
    """The archived rows of ``table`` still cold (``None`` when nothing is archived)."""
    spec = _spec(table)
    active = [s for s in segments(warehouse, table) if since is None or s.max_observed_at >= since]
    if not active:
        return None
    skip = _restored_ranges(warehouse, [s.segment_id for s in active])
    schema = pa.schema([spec.schema.field(c) for c in columns])
    parts = [
        _read_segment(
            s, columns, channel_ids=channel_ids, since=since, until=None, skip=skip.get(s.segment_id, [])
        ).cast(schema)
        for s in active
    ]
    return pa.concat_tables(parts)


def restore(
    warehouse: Warehouse,
    start: datetime,
    end: datetime,
    *,
    tables: Sequence[str] = tuple(ARCHIVE_TABLES),
    now: datetime | None = None,
    on_step: StepCallback | None = None,
) -> RestoreOutcome:
    """Bring rows observed in ``[start, end)`` back into the hot tables (one transaction a segment)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ConfigError("restore bounds need a time zone")
    if not start < end:
        raise ConfigError(f"restore range is empty: {start.isoformat()} is not before {end.isoformat()}")
    specs = [_spec(t) for t in tables]
    cleaned = clean_pending(warehouse)
    at = now or datetime.now(UTC)
    restored: dict[str, int] = {}
    for spec in specs:
        count = 0
        for segment in segments(warehouse, spec.name):
            if segment.max_observed_at < start or segment.min_observed_at >= end:
                continue
            # the object must still be what was archived before a row of it goes back
            ObjectStore.open(segment.location).verify(
                StoredObject(segment.data_path, segment.bytes, segment.sha256)
            )
            skip = _restored_ranges(warehouse, [segment.segment_id]).get(segment.segment_id, [])
            rows = _read_segment(
                segment, spec.columns, channel_ids=None, since=start, until=end, skip=skip
            ).cast(spec.schema)
            if rows.num_rows == 0:
                continue
            columns = ", ".join(spec.columns)
            with warehouse.transaction() as backend:
                backend.stage("_restore_rows", rows)
                try:
                    inserted = backend.count(
                        f"INSERT INTO {spec.name} ({columns}) SELECT {columns} FROM _restore_rows"  # noqa: S608
                    )
                    backend.count(
                        "INSERT INTO archive_restores VALUES (?, ?, ?, ?, ?)",
                        [segment.segment_id, start, end, inserted, at],
                    )
                finally:
                    backend.unstage("_restore_rows")
            if on_step:
                on_step("restored", segment.segment_id)
            count += inserted
        restored[spec.name] = count
    return RestoreOutcome(start, end, restored, cleaned)
