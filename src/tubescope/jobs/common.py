"""What several jobs share: opening the warehouse for reading and finding a stored channel."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from pydantic import SecretStr

from tubescope.analysis.features import id_positions
from tubescope.analysis.frames import ChannelFrames
from tubescope.config import Settings, load_settings
from tubescope.domain.refs import RefKind, parse_channel_ref
from tubescope.errors import ChannelNotFound, ConfigError, InvalidChannelRef, StorageError
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import PostgresTarget, WarehouseTarget, parse_target, with_pool_size


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


_shared: dict[Path, Callable[[], AbstractContextManager[Warehouse]]] = {}
"""Warehouses a long-lived process (the service) keeps open, by resolved path.

DuckDB refuses a read-only connection to a file this process already holds read-write, so jobs
running inside the service borrow the shared connection instead of opening the file again.
"""


def share_warehouse(db_path: Path, borrow: Callable[[], AbstractContextManager[Warehouse]] | None) -> None:
    """Register (or, with None, withdraw) the way to borrow an already open warehouse."""
    key = Path(db_path).resolve()
    if borrow is None:
        _shared.pop(key, None)
    else:
        _shared[key] = borrow


def warehouse_target(
    db: WarehouseTarget | str | None = None, settings: Settings | None = None
) -> WarehouseTarget:
    """The warehouse a job works on: ``db`` (``--db``: a DuckDB file or a ``postgresql://`` URL)
    when given, else ``TUBESCOPE_DB_URL``, else ``TUBESCOPE_DB_PATH``."""
    if db is not None:
        target = parse_target(db)
        # A PostgreSQL --db still takes its pool size from the settings.
        return with_pool_size(target, settings.db_pool_size) if settings is not None else target
    return (settings or load_settings()).warehouse_target


def settings_for(settings: Settings, target: WarehouseTarget) -> Settings:
    """``settings`` pointed at ``target`` (a DuckDB file as ``db_path``, PostgreSQL as ``db_url``)."""
    if isinstance(target, PostgresTarget):
        return settings.model_copy(update={"db_url": SecretStr(target.url)})
    return settings.model_copy(update={"db_path": target, "db_url": None})


@contextmanager
def open_for_writing(target: WarehouseTarget) -> Iterator[Warehouse]:
    """The warehouse at ``target``, writable: borrowed from this process's service when it holds
    the DuckDB file, else opened (waiting for another process to let go of the file)."""
    if isinstance(target, Path):
        borrow = _shared.get(target.resolve())
        if borrow is not None:
            with borrow() as warehouse:
                yield warehouse
            return
    with Warehouse.open(target) as warehouse:
        yield warehouse


def require_warehouse(target: WarehouseTarget) -> None:
    """Refuse a DuckDB file that does not exist yet (reading commands never create one)."""
    if isinstance(target, Path) and not target.is_file():
        raise StorageError(f"no warehouse at {target}; collect some channels first (`tubescope collect`)")


@contextmanager
def open_for_reading(db_path: WarehouseTarget) -> Iterator[Warehouse]:
    """The warehouse at ``db_path``, read-only; a clear error when nothing was collected yet."""
    if isinstance(db_path, PostgresTarget):
        with Warehouse.open(db_path, read_only=True) as warehouse:
            yield warehouse
        return
    borrow = _shared.get(Path(db_path).resolve())
    if borrow is not None:
        with borrow() as warehouse:
            yield warehouse
        return
    require_warehouse(Path(db_path))
    with Warehouse.open(db_path, read_only=True) as warehouse:
        yield warehouse


def resolve_stored_channel(warehouse: Warehouse, ref: str) -> str:
    """The id of a collected channel named by ``ref`` (UC… id, @handle, channel or video URL).

    Looks only in the warehouse, so it costs no quota; a channel never collected is
    :class:`ChannelNotFound` with the command that fixes it.
    """
    parsed = parse_channel_ref(ref)
    if parsed.kind is RefKind.CHANNEL_ID:
        rows = warehouse.query("SELECT channel_id FROM channels WHERE channel_id = ?", [parsed.value])
    elif parsed.kind is RefKind.HANDLE:
        rows = warehouse.query(
            "SELECT channel_id FROM channels WHERE lower(handle) = lower(?)", [parsed.value]
        )
    elif parsed.kind is RefKind.VIDEO:
        rows = warehouse.query("SELECT channel_id FROM videos WHERE video_id = ?", [parsed.value])
    else:
        raise InvalidChannelRef(ref, "use the channel's UC… id or @handle for a collected channel")
    if rows.empty:
        raise ChannelNotFound(f"{ref} is not in the warehouse; run `tubescope collect {ref}` first")
    return str(rows.iloc[0, 0])


def all_channel_ids(warehouse: Warehouse) -> list[str]:
    """Every channel id in the warehouse, sorted."""
    return [
        str(v) for v in warehouse.query("SELECT channel_id FROM channels ORDER BY channel_id")["channel_id"]
    ]


def load_channel_frames(warehouse: Warehouse, channel_ids: Sequence[str] | None = None) -> ChannelFrames:
    """The frames of ``channel_ids`` (every channel when None) for the analyses."""
    frames = warehouse.load_frames(list(channel_ids) if channel_ids is not None else None)
    return ChannelFrames(
        channels=frames["channels"],
        videos=frames["videos"],
        video_snapshots=frames["video_snapshots"],
        channel_snapshots=frames["channel_snapshots"],
        early_points=load_early_points(warehouse, channel_ids),
    )


EARLY_POINTS_VERSION = 8
"""The schema version that added ``video_early_points``."""


def load_early_points(warehouse: Warehouse, channel_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Watch mode's dense samples of ``channel_ids`` (all channels: None) as a frame."""
    from tubescope.warehouse.watches import early_points

    wanted = list(channel_ids) if channel_ids is not None else None
    points = early_points(warehouse, wanted) if warehouse.schema_version >= EARLY_POINTS_VERSION else []
    frame = pd.DataFrame(
        {
            "video_id": [p.video_id for p in points],
            "channel_id": [p.channel_id for p in points],
            "slot_hours": [p.slot_hours for p in points],
            "observed_at": pd.to_datetime([p.observed_at for p in points], utc=True),
            "age_hours": [p.age_hours for p in points],
            "view_count": [p.view_count for p in points],
        }
    )
    return frame


def parse_date(text: str) -> datetime:
    """A date or ISO-8601 time from the command line, as aware UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"not a date: {text!r} (use YYYY-MM-DD or an ISO-8601 time)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def last_observed(frames: ChannelFrames, channel_id: str) -> datetime | None:
    """When the channel was last observed: the analysis clock that makes "the last 28 days" mean
    the last 28 days of data, not of the calendar (a channel collected a month ago is not idle)."""
    snaps = frames.channel_snapshots
    mine = snaps[snaps["channel_id"].astype(str) == channel_id]["observed_at"]
    video_snaps = frames.video_snapshots
    own_videos = frames.videos[frames.videos["channel_id"].astype(str) == channel_id]["video_id"]
    # Matched by Arrow's hash kernel: Series.isin over 200k snapshot ids cost 0.1 s.
    theirs = video_snaps["observed_at"][id_positions(video_snaps["video_id"], own_videos) >= 0]
    moments = pd.concat([mine, theirs]).dropna()
    if moments.empty:
        return None
    latest: datetime = pd.Timestamp(moments.max()).to_pydatetime()
    return latest


def newest_observation(warehouse: Warehouse) -> datetime | None:
    """The newest channel snapshot in the warehouse: the reference a channel's staleness is judged
    against (never the machine's clock)."""
    found = warehouse.query_arrow("SELECT max(observed_at) FROM channel_snapshots")
    value = found.column(0)[0].as_py() if found.num_rows else None
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    moment: datetime = stamp.to_pydatetime()
    return moment
