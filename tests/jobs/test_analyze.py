"""The analyze job against a real DuckDB warehouse: the terminal summary reuses the frames read once."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tests.analysis.planted_frames import Planted, build_channel
from tests.report.warehouse_fill import fill_warehouse
from tubescope.jobs.analyze import analysis_summary, analyze, analyze_with_frames
from tubescope.jobs.common import load_channel_frames, open_for_reading

SUBJECT = "UCplanted000000000000000"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse") / "tubescope.duckdb"
    fill_warehouse(path, build_channel(Planted(seed=3, n_videos=40, days=60)).frames)
    return path


def _text(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_summary_from_the_frames_read_once_equals_the_one_that_reads_again(warehouse: Path) -> None:
    analysis, frames = analyze_with_frames(warehouse, "@planted")
    assert analysis.to_dict() == analyze(warehouse, "@planted").to_dict()
    with open_for_reading(warehouse) as opened:
        again = load_channel_frames(opened, [SUBJECT])
    assert frames.video_snapshots.equals(again.video_snapshots) and frames.videos.equals(again.videos)
    shown = _text(analysis_summary(analysis, warehouse, frames=frames))
    assert shown == _text(analysis_summary(analysis, warehouse)) and "Key figures" in shown
