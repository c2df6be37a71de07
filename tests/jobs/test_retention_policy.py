"""retention.mode: strict keeps raw statistics for the window and derived daily aggregates beyond
it (both backends); extended keeps everything; the choice shows in the report and /ready."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.warehouse.archive_fill import fill
from tubescope.config import load_settings
from tubescope.errors import ConfigError
from tubescope.jobs.archive import run_archive
from tubescope.jobs.report import render_report
from tubescope.jobs.retention import RetentionPolicy, apply_policy, policy_from
from tubescope.warehouse import Warehouse
from tubescope.warehouse import archive as ar

DAYS = 45


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    path = tmp_path_factory.mktemp("retention") / "filled.duckdb"
    return path, fill(path, channels=2, videos=3, days=DAYS, seed=5)


@pytest.fixture(params=["duckdb", "postgresql"])
def source(
    request: pytest.FixtureRequest, filled: tuple[Path, datetime], tmp_path: Path
) -> Iterator[tuple[Path | str, datetime]]:
    if request.param == "duckdb":
        path = tmp_path / "w.duckdb"
        shutil.copy(filled[0], path)
        yield path, filled[1]
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url, fill(url, channels=2, videos=3, days=DAYS, seed=5)
    from tubescope.warehouse.postgres_backend import close_pools
    from tubescope.warehouse.target import parse_target

    found = parse_target(url)
    assert not isinstance(found, Path)
    close_pools(found)


def test_strict_keeps_the_window_raw_and_older_days_as_aggregates(
    source: tuple[Path | str, datetime],
) -> None:
    target, last = source
    policy = RetentionPolicy("strict", 14)
    with Warehouse.open(target) as wh:
        frames = wh.load_frames()
        snaps = frames["video_snapshots"]
        outcome = apply_policy(wh, policy, now=last)
        assert outcome is not None
        midnight = datetime(last.year, last.month, last.day, tzinfo=UTC)
        assert outcome.cutoff == midnight - timedelta(days=14)
        old = snaps[snaps["observed_at"] < outcome.cutoff]
        # every whole day before the window became one aggregate row per channel
        days = old["observed_at"].dt.floor("D").nunique()
        assert outcome.aggregates_written == days * 2
        # raw rows before the window are gone, each video's latest excepted; the window is whole
        left = wh.fetchone("SELECT count(*) FROM video_snapshots WHERE observed_at < ?", [outcome.cutoff])
        assert left == (0,)
        recent = wh.fetchone("SELECT count(*) FROM video_snapshots WHERE observed_at >= ?", [outcome.cutoff])
        assert recent == ((snaps["observed_at"] >= outcome.cutoff).sum(),)
        # the aggregates equal the same figures computed from the raw rows before the prune
        first_day = old["observed_at"].min().floor("D")
        rows = old[old["observed_at"].dt.floor("D") == first_day]
        newest = rows.sort_values("observed_at").drop_duplicates("video_id", keep="last")
        expected = newest.groupby("channel_id")["view_count"].sum().to_dict()
        stored = dict(
            wh.fetchall(
                "SELECT channel_id, views_total FROM channel_daily_aggregates WHERE day = ?",
                [first_day.date()],
            )
        )
        assert stored == expected
        # a second pass the same day finds nothing more to do
        again = apply_policy(wh, policy, now=last)
        assert again is not None and again.aggregates_written == 0
        assert again.prune.video_snapshots_deleted == 0


def test_extended_keeps_everything(filled: tuple[Path, datetime], tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(filled[0], path)
    with Warehouse.open(path) as wh:
        before = wh.table_counts()
        assert apply_policy(wh, RetentionPolicy("extended"), now=filled[1]) is None
        assert wh.table_counts() == before


def test_the_mode_is_a_setting_stated_in_the_report(
    filled: tuple[Path, datetime], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tubescope.toml").write_text('[retention]\nmode = "strict"\nwindow_days = 20\n')
    policy = policy_from(load_settings())
    assert policy == RetentionPolicy("strict", 20)
    with Warehouse.open(filled[0], read_only=True) as wh:
        channel_id = str(wh.fetchone("SELECT min(channel_id) FROM channels")[0])
        html = render_report(wh, channel_id).html
    assert "Data retention" in html and "raw YouTube statistics are kept for 20 days" in html
    monkeypatch.setenv("TUBESCOPE_RETENTION_MODE", "extended")
    with Warehouse.open(filled[0], read_only=True) as wh:
        assert "every raw statistics snapshot is kept" in render_report(wh, channel_id).html
    monkeypatch.setenv("TUBESCOPE_RETENTION_MODE", "forever")
    with pytest.raises(ConfigError, match="retention_mode"):
        load_settings()


def test_strict_refuses_to_archive_and_an_archive_refuses_strict(
    filled: tuple[Path, datetime], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(filled[0], path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUBESCOPE_RETENTION_MODE", "strict")
    with pytest.raises(ConfigError, match="strict"):
        run_archive(path, to=str(tmp_path / "cold"), older_than="10d")
    with Warehouse.open(path) as wh:
        ar.archive(wh, str(tmp_path / "cold"), filled[1] - timedelta(days=10))
        with pytest.raises(ConfigError, match="restore"):
            apply_policy(wh, RetentionPolicy("strict", 5), now=filled[1])
