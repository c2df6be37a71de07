from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tubescope.domain.models import Channel, ChannelSnapshot, Video, VideoFormat, VideoSnapshot
from tubescope.warehouse import Warehouse

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FINGERPRINT = "key-0123456789"
REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "real"


class FixedClock:
    """An injectable clock the tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


BACKENDS = ("duckdb", "postgresql")


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, db_path: Path) -> Iterator[Path | str]:
    """Each backend in turn: the DuckDB file, then a fresh PostgreSQL database (skipped with a
    reason where PostgreSQL is absent). Tests taking ``wh`` or ``target`` run on both."""
    if request.param == "duckdb":
        yield db_path
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    from tubescope.warehouse.postgres_backend import close_pools
    from tubescope.warehouse.target import parse_target

    found = parse_target(url)
    assert not isinstance(found, Path)
    close_pools(found)


@pytest.fixture
def wh(target: Path | str, clock: FixedClock) -> Iterator[Warehouse]:
    with Warehouse.open(target, clock=clock) as warehouse:
        yield warehouse


def channel(channel_id: str = "UCaaaaaaaaaaaaaaaaaaaaaa", *, subscribers: int | None = 1200) -> Channel:
    return Channel(
        channel_id=channel_id,
        title=f"Channel {channel_id[-4:]}",
        handle=f"@{channel_id[-6:].lower()}",
        description="about",
        published_at=datetime(2019, 5, 1, tzinfo=UTC),
        country="FR",
        default_language="fr",
        uploads_playlist_id="UU" + channel_id[2:],
        subscriber_count=subscribers,
        hidden_subscriber_count=subscribers is None,
        view_count=50_000,
        video_count=3,
    )


def video(
    video_id: str,
    channel_id: str = "UCaaaaaaaaaaaaaaaaaaaaaa",
    *,
    published_at: datetime = datetime(2026, 2, 1, tzinfo=UTC),
    video_format: VideoFormat = VideoFormat.LONG,
    tags: tuple[str, ...] = ("tech", "review"),
    duration: int | None = 600,
) -> Video:
    return Video(
        video_id=video_id,
        channel_id=channel_id,
        title=f"Video {video_id}",
        description="desc",
        published_at=published_at,
        duration_seconds=duration,
        duration_raw=None if duration is None else f"PT{duration}S",
        video_format=video_format,
        tags=tags,
        category_id="28",
    )


def vsnap(
    video_id: str,
    views: int,
    *,
    at: datetime = T0,
    likes: int | None = 10,
    comments: int | None = 2,
) -> VideoSnapshot:
    return VideoSnapshot(video_id, at, views, likes, comments)


def csnap(
    channel_id: str = "UCaaaaaaaaaaaaaaaaaaaaaa",
    *,
    at: datetime = T0,
    subscribers: int | None = 1200,
    views: int = 50_000,
) -> ChannelSnapshot:
    return ChannelSnapshot(channel_id, at, subscribers, views, 3)
