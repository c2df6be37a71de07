"""What every job shares: naming a collected channel (by id or one of its videos' URLs),
dates from the command line, and the warehouse's clocks, on a real DuckDB warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.warehouse.archive_fill import fill
from tubescope.errors import ChannelNotFound, ConfigError, InvalidChannelRef
from tubescope.jobs.common import (
    last_observed,
    load_channel_frames,
    newest_observation,
    parse_date,
    resolve_stored_channel,
)
from tubescope.warehouse import Warehouse


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    path = tmp_path_factory.mktemp("common") / "w.duckdb"
    return path, fill(path, days=5)


def test_a_channel_is_found_by_id_or_a_video_url(filled: tuple[Path, datetime]) -> None:
    with Warehouse.open(filled[0], read_only=True) as warehouse:
        channel_id, video_id = warehouse.fetchall(
            "SELECT channel_id, video_id FROM videos ORDER BY video_id LIMIT 1"
        )[0]
        assert resolve_stored_channel(warehouse, channel_id) == channel_id
        url = f"https://www.youtube.com/watch?v={video_id}"
        assert resolve_stored_channel(warehouse, url) == channel_id
        with pytest.raises(InvalidChannelRef, match="UC… id or @handle for a collected channel"):
            resolve_stored_channel(warehouse, "https://www.youtube.com/c/SomeCustomName")
        with pytest.raises(ChannelNotFound):
            resolve_stored_channel(warehouse, "https://youtu.be/AAAAAAAAAAA")  # a video never collected


def test_dates_from_the_command_line_are_aware_utc() -> None:
    assert parse_date("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_date(" 2026-03-01T10:00:00+02:00 ") == datetime(
        2026, 3, 1, 10, tzinfo=timezone(timedelta(hours=2))
    )
    with pytest.raises(ConfigError, match="not a date: 'March 1st'"):
        parse_date("March 1st")


def test_the_clocks_come_from_the_data_not_the_machine(filled: tuple[Path, datetime], tmp_path: Path) -> None:
    path, last = filled
    with Warehouse.open(path, read_only=True) as warehouse:
        assert newest_observation(warehouse) == last
        frames = load_channel_frames(warehouse)
    channel_id = str(frames.channels["channel_id"].iloc[0])
    assert last_observed(frames, channel_id) == last
    assert last_observed(frames, "UCnever00000000000000000") is None
    with Warehouse.open(tmp_path / "empty.duckdb") as empty:
        assert newest_observation(empty) is None
