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


def test_collected_comments_are_summarised_and_shown(tmp_path: Path) -> None:
    from tests.pipeline.helpers import collect, rows
    from tubescope.emulator.world import World
    from tubescope.pipeline.run import CollectOptions
    from tubescope.testing import running_emulator

    world = World(seed=3, n_channels=3, videos_per_channel=15)
    channel_id = world.channel_ids()[1]
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        collect(emu, db, [channel_id], options=CollectOptions(comments=True))
    analysis, frames = analyze_with_frames(db, channel_id)
    summary = analysis.extras["comments"]
    # the same figures counted in SQL, straight from the comments table
    ((total, replies, videos, authors),) = rows(
        db,
        "SELECT count(*), count(*) FILTER (WHERE parent_id IS NOT NULL AND parent_id <> ''),"
        " count(DISTINCT video_id), count(DISTINCT author) FROM comments",
    )
    assert total > 0 and replies > 0
    assert (summary["n_comments"], summary["n_replies"]) == (total, replies)
    assert (summary["n_videos"], summary["n_authors"]) == (videos, authors)
    assert summary["reply_share"] == pytest.approx(replies / total)
    monthly = dict(
        rows(
            db, "SELECT strftime(published_at AT TIME ZONE 'UTC', '%Y-%m'), count(*) FROM comments GROUP BY 1"
        )
    )
    assert {m["month"]: m["comments"] for m in summary["monthly"]} == monthly
    ((top_author, top_count),) = rows(
        db,
        "SELECT author, count(*) FROM comments GROUP BY author ORDER BY 2 DESC, sum(like_count) DESC LIMIT 1",
    )
    assert (summary["top_commenters"][0]["author"], summary["top_commenters"][0]["comments"]) == (
        top_author,
        top_count,
    )
    shown = _text(analysis_summary(analysis, db, frames=frames))
    assert "Comments collected" in shown
    assert f"{total} / {replies}" in shown and f"{replies / total * 100:.0f}%" in shown
    assert f"{top_author} ({top_count})" in shown


def test_a_channel_without_collected_comments_says_how_to_get_them(warehouse: Path) -> None:
    analysis, frames = analyze_with_frames(warehouse, "@planted")
    assert analysis.extras["comments"]["n_comments"] == 0
    assert "collect with --comments" in _text(analysis_summary(analysis, warehouse, frames=frames))
