"""The Python API: ``tubescope.open(db)`` → ``.channel(ref)`` → DataFrames and typed results,
loaded lazily so ``import tubescope`` stays cheap; unknown references raise."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import tubescope
from tubescope.errors import ChannelNotFound, InvalidChannelRef, ModelError, StorageError
from tubescope.jobs.analyze import analyze
from tubescope.jobs.collect import collect
from tubescope.testing import running_emulator


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    db_path = tmp_path_factory.mktemp("api") / "warehouse.duckdb"
    with running_emulator(seed=5, n_channels=2) as emulator:
        channel_id = emulator.world.channel_ids()[0]
        collect(
            emulator.world.channel_ids(),
            db_path=db_path,
            api_keys=emulator.keys[:1],
            api_base=emulator.base_url,
        )
        handle = emulator.world.handle_of(0)
    return db_path, channel_id, handle


def test_import_tubescope_does_not_load_the_facade_or_pandas() -> None:
    probe = (
        "import sys, tubescope; print(json.dumps(['pandas' in sys.modules, 'tubescope.api' in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import json; " + probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout) == [False, False]


def test_a_channel_by_handle_gives_frames_and_the_same_figures(warehouse: tuple[Path, str, str]) -> None:
    db_path, channel_id, handle = warehouse
    with tubescope.open(db_path) as ts:
        assert channel_id in set(ts.channels()["channel_id"])
        channel = ts.channel(handle)
        assert channel.channel_id == channel_id
        videos = channel.videos()
        snapshots = channel.snapshots()
        assert isinstance(videos, pd.DataFrame) and len(videos) > 0
        assert set(snapshots["video_id"]) <= set(videos["video_id"]) and len(snapshots) > 0
        assert len(channel.channel_snapshots()) == 1
        figures = channel.kpis()
    # The facade's figures are the CLI's.
    assert figures.to_dict()["values"] == analyze(db_path, channel_id).to_dict()["kpis"]["values"]
    assert figures.value("n_videos") == len(videos)


def test_unknown_references_raise_instead_of_returning_nothing(
    warehouse: tuple[Path, str, str], tmp_path: Path
) -> None:
    db_path, _, _ = warehouse
    with tubescope.open(db_path) as ts:
        with pytest.raises(ChannelNotFound, match="tubescope collect @nobody"):
            ts.channel("@nobody")
        with pytest.raises(InvalidChannelRef):
            ts.channel("not a channel at all")
    with pytest.raises(StorageError, match="no warehouse"):
        tubescope.open(tmp_path / "missing.duckdb")
    with pytest.raises(AttributeError):
        _ = tubescope.no_such_name  # type: ignore[attr-defined]


def test_compare_report_predict_and_the_configured_warehouse(
    warehouse: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path, channel_id, handle = warehouse
    monkeypatch.setenv("TUBESCOPE_DB_PATH", str(db_path))
    with tubescope.open() as ts:  # the configured warehouse, as the CLI would open it
        assert repr(ts) == f"tubescope.open({str(db_path)!r})"
        ids = sorted(ts.channels()["channel_id"])
        assert len(ids) == 2
        table = ts.compare(ids)
        assert set(table["channel_id"]) == set(ids)
        # Between two channels the larger value of a KPI ranks above the smaller one.
        checked = 0
        for _, pair in table.dropna(subset=["value", "percentile"]).groupby("name"):
            if pair["value"].nunique() == 2:
                ordered = pair.sort_values("value")
                higher_is_better = bool(ordered["higher_is_better"].iloc[0])
                low, high = ordered["percentile"].iloc[0], ordered["percentile"].iloc[-1]
                assert (high > low) if higher_is_better else (high < low)
                checked += 1
        assert checked >= 3
        channel = ts.channel(handle)
        assert repr(channel) == f"<Channel {channel_id} {channel.title!r}>"
        page = channel.report(peers=[ids[1] if ids[0] == channel_id else ids[0]])
        assert page.startswith("<!DOCTYPE html>") and channel_id in page
        with pytest.raises(ModelError, match="tubescope train"):
            channel.predict(
                "A planned video", duration_seconds=600.0, publish_at=datetime(2026, 10, 2, 17, tzinfo=UTC),
                model_dir=db_path.parent / "no-models",
            )  # fmt: skip
