"""Maintained fleet KPIs (``channel_kpis``): after every collection run, prune, archive and
restore, on both backends, the maintained table equals the full scan over every snapshot row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from tubescope.config import Settings
from tubescope.emulator.world import World
from tubescope.jobs import catalog
from tubescope.jobs.collect import collect
from tubescope.jobs.retention import prune_warehouse
from tubescope.pipeline.kpi_aggregates import maintained_kpis, refresh_channel_kpis
from tubescope.testing import running_emulator
from tubescope.warehouse import Warehouse
from tubescope.warehouse import archive as cold_archive


@pytest.fixture(params=["duckdb", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """A fresh DuckDB file or a fresh PostgreSQL database."""
    if request.param == "duckdb":
        yield tmp_path / "kpis.duckdb"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    from tubescope.warehouse.postgres_backend import close_pools
    from tubescope.warehouse.target import parse_target

    found = parse_target(url)
    assert not isinstance(found, Path)
    close_pools(found)


def _assert_maintained_is_the_scan(wh: Warehouse, step: str) -> pd.DataFrame:
    """The maintained rows are up to date, answer the fleet query, and equal the full scan."""
    assert wh.fetchone("SELECT count(*) FROM channel_kpis_stale") == (0,), step
    maintained = maintained_kpis(wh)
    assert maintained is not None, step
    scan = catalog.fleet_kpi_scan(wh)
    assert len(scan) > 0, step
    # Equal up to the last bits of a float sum (a UNION or the pandas twin may reorder it).
    pd.testing.assert_frame_equal(maintained, scan, check_exact=False, rtol=1e-12, obj=step)
    pd.testing.assert_frame_equal(catalog.fleet_kpi_table(wh), maintained, obj=step)
    one = str(scan["channel_id"].iloc[-1])
    pd.testing.assert_frame_equal(
        catalog.fleet_kpi_table(wh, channel_id=one),
        catalog.fleet_kpi_scan(wh, channel_id=one),
        check_exact=False,
        rtol=1e-12,
        obj=f"{step}: {one}",
    )
    return maintained


def test_maintained_kpis_equal_the_full_scan_after_every_run_prune_archive_and_restore(
    target: Path | str, s3_uri: str
) -> None:
    world = World(seed=11, n_channels=3, videos_per_channel=40)
    with running_emulator(world) as emu:
        ids = world.channel_ids()
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)

        def run() -> None:
            summary = collect(ids, db_path=target, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
            assert summary.status == "completed", summary

        run()
        with Warehouse.open(target) as wh:
            first = _assert_maintained_is_the_scan(wh, "first run")
        for days in (10, 10, 20):  # new uploads, statistics and 28-day windows move on
            emu.clock.advance(timedelta(days=days))
            run()
            with Warehouse.open(target) as wh:
                latest = _assert_maintained_is_the_scan(wh, f"run after {days} days")
        assert not latest.equals(first)
        assert (latest["n_videos"] > first["n_videos"]).any()  # later runs found new uploads

        now = emu.clock.now()
        with Warehouse.open(target) as wh:
            pruned = prune_warehouse(wh, 35, now=now)  # the first run's rows go
            assert pruned.video_snapshots_deleted > 0
            _assert_maintained_is_the_scan(wh, "prune")

            # Archiving moves rows, it changes no figure: the maintained rows stay as they are
            # and still equal the scan over hot and cold together.
            moved = cold_archive.archive(wh, s3_uri, now - timedelta(days=10), now=now)  # the next two
            assert moved.rows > 0
            _assert_maintained_is_the_scan(wh, "archive")

        # A run after archiving recomputes from the hot and the cold channel snapshots.
        emu.clock.advance(timedelta(days=2))
        run()
        with Warehouse.open(target) as wh:
            _assert_maintained_is_the_scan(wh, "run after archive")
            restored = cold_archive.restore(wh, now - timedelta(days=40), now, now=now)
            assert sum(restored.rows.values()) > 0
            _assert_maintained_is_the_scan(wh, "restore")


def test_stale_channels_and_earlier_times_fall_back_to_the_scan(tmp_path: Path) -> None:
    world = World(seed=5, n_channels=2, videos_per_channel=30)
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        fast = Settings(youtube_api_base=emu.base_url, requests_per_second=1000)
        collect(world.channel_ids(), db_path=db, api_keys=emu.keys[:1], settings=fast, clock=emu.clock)
        at = emu.clock.now()
    with Warehouse.open(db) as wh:
        table = maintained_kpis(wh)
        assert table is not None
        # a time before the last observation: the maintained rows cannot answer it
        before = table["as_of"].max().to_pydatetime() - timedelta(hours=1)
        assert maintained_kpis(wh, before) is None
        pd.testing.assert_frame_equal(
            catalog.fleet_kpi_table(wh, now=before), catalog.fleet_kpi_scan(wh, now=before)
        )
        # a write outside a run marks its channel stale: that channel is scanned, others are not
        stale, fresh = sorted(table["channel_id"])
        with wh.transaction() as con:
            con.rows("INSERT INTO channel_kpis_stale VALUES (?)", [stale])
        assert maintained_kpis(wh, channel_id=stale) is None
        assert maintained_kpis(wh) is None
        assert maintained_kpis(wh, channel_id=fresh) is not None
        assert refresh_channel_kpis(wh, at=at) == 1  # only the stale channel is recomputed
        pd.testing.assert_frame_equal(maintained_kpis(wh), table)
