"""The dashboard's pure pieces: the video table's search, sort and pages, the view-curve SVG, and
a video page refused for a video of another channel (real DuckDB warehouse)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouse.archive_fill import fill
from tubescope.errors import NotFoundError
from tubescope.jobs.dashboard import curve_svg, video_detail, video_table
from tubescope.warehouse import Warehouse

ROWS = [
    {"video_id": "a", "title": "Why cats?", "view_count": 10, "published_at": "2026-01-03"},
    {"video_id": "b", "title": "Dogs", "view_count": None, "published_at": "2026-01-01"},
    {"video_id": "c", "title": "More CATS", "view_count": 30, "published_at": "2026-01-02"},
    {"video_id": "d", "title": "birds", "view_count": 20, "published_at": "2026-01-04"},
]


def test_the_video_table_searches_sorts_and_pages() -> None:
    cats = video_table(ROWS, query="  cats ", sort="view_count")
    assert [r["video_id"] for r in cats.rows] == ["c", "a"] and (cats.total, cats.matching) == (4, 2)
    by_views = video_table(ROWS, sort="view_count", descending=False)
    assert [r["video_id"] for r in by_views.rows] == ["a", "d", "c", "b"]  # unknown views last, not as 0
    by_title = video_table(ROWS, sort="title", descending=False)
    assert [r["title"] for r in by_title.rows] == ["birds", "Dogs", "More CATS", "Why cats?"]
    unknown_sort = video_table(ROWS, sort="'; DROP TABLE videos")
    assert unknown_sort.sort == "published_at" and [r["video_id"] for r in unknown_sort.rows] == [
        "d",
        "a",
        "c",
        "b",
    ]
    last = video_table(ROWS, page=99, page_size=3)
    assert (last.page, last.pages, [r["video_id"] for r in last.rows]) == (2, 2, ["b"])
    assert video_table([], page=0).page == 1


def test_the_curve_is_an_accessible_svg_with_its_band() -> None:
    assert curve_svg([], title="Views <of> x") == '<p class="empty">Views &lt;of&gt; x: no snapshots yet.</p>'
    svg = curve_svg(
        [(1.0, 100.0), (7.0, 400.0)], [(1.0, 50.0, 80.0, 120.0), (7.0, 200.0, 300.0, 500.0)], title="T"
    )
    assert svg.startswith('<svg class="curve"') and 'role="img"' in svg and "<title>T</title>" in svg
    assert svg.count('<polygon class="band"') == 1 and "polyline" in svg


def test_a_video_of_another_channel_is_not_found_under_this_one(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    fill(db, days=3)
    with Warehouse.open(db, read_only=True) as warehouse:
        (first, video), (second, _) = warehouse.fetchall(
            "SELECT channel_id, min(video_id) FROM videos GROUP BY channel_id ORDER BY channel_id LIMIT 2"
        )
        page = video_detail(warehouse, first, video)
        assert page.channel_id == first and page.n_snapshots == 3
        assert isinstance(page.video["duration_seconds"], int | float | type(None))
        assert "no other videos" not in page.band_note
        with pytest.raises(NotFoundError, match=f"no video {video} in channel {second}"):
            video_detail(warehouse, second, video)
