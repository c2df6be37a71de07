"""The abtest job and command against a real DuckDB warehouse holding an emulator channel whose
question-mark titles were planted to earn more views."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.report.warehouse_fill import fill_warehouse
from tubescope.analysis.abtest import Metric
from tubescope.analysis.frames import ChannelFrames
from tubescope.errors import ChannelNotFound, InvalidQuery, StorageError
from tubescope.jobs.abtest import abtest, abtest_summary

OBSERVED = [
    datetime(2026, 10, 30, tzinfo=UTC),
    datetime(2026, 10, 31, tzinfo=UTC),
    datetime(2026, 11, 1, tzinfo=UTC),
]
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, float]:
    from tubescope.emulator.world import World
    from tubescope.testing import world_frames

    world = World(seed=22, n_channels=40)
    truth = world.channel_truth(12)
    assert truth.title_lift > 1.4
    raw = world_frames(world, [truth.channel_id], OBSERVED)
    # Live videos have no duration; the fill helper stores whole seconds, so leave them out.
    videos = raw["videos"][raw["videos"]["duration_seconds"].notna()].reset_index(drop=True)
    snapshots = raw["video_snapshots"][raw["video_snapshots"]["video_id"].isin(videos["video_id"])]
    frames = ChannelFrames(raw["channels"], videos, snapshots, raw["channel_snapshots"])
    path = tmp_path_factory.mktemp("abtest") / "tubescope.duckdb"
    fill_warehouse(path, frames)
    return path, truth.channel_id, truth.title_lift


def test_the_job_finds_the_planted_lift_in_the_warehouse(planted: tuple[Path, str, float]) -> None:
    path, channel_id, lift = planted
    result = abtest(path, channel_id, "title contains '?'", now=NOW, seed=3)
    assert result.metric is Metric.LATEST_VIEWS  # three daily snapshots: no video has one at age 7
    headline = result.headline
    assert headline is not None and headline.statistics is not None
    assert headline.statistics.significant
    assert headline.statistics.lift_ci_low <= lift <= headline.statistics.lift_ci_high
    assert result.verdict.startswith(
        f"{headline.stratum.capitalize()} videos: Videos where title contains '?' get"
    )
    again = abtest(path, channel_id, "title contains '?'", now=NOW, seed=3)
    assert again.to_dict() == result.to_dict()
    assert "lift A/B" in _render(abtest_summary(result))


def test_the_job_checks_the_filter_before_touching_the_warehouse(
    planted: tuple[Path, str, float], tmp_path: Path
) -> None:
    path, channel_id, _ = planted
    with pytest.raises(InvalidQuery, match="at column 12"):
        abtest(tmp_path / "missing.duckdb", channel_id, "duration > ")
    with pytest.raises(StorageError, match="no warehouse"):
        abtest(tmp_path / "missing.duckdb", channel_id, "duration > 5")
    with pytest.raises(ChannelNotFound):
        abtest(path, "UCnobody0000000000000000", "duration > 5")


def _render(renderable: object) -> str:
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    command = [sys.executable, "-m", "tubescope.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False, env=env)


def test_the_command_prints_a_table_and_verdict_or_json(planted: tuple[Path, str, float]) -> None:
    path, channel_id, _ = planted
    table = _cli("abtest", channel_id, "title contains '?'", "--db", str(path))
    assert table.returncode == 0, table.stderr
    assert "Videos where title contains '?' get" in table.stdout
    assert "significant at 5%" in table.stdout
    as_json = _cli(
        "abtest", channel_id, "format = short", "--versus", "format = long", "--db", str(path), "--json"
    )
    assert as_json.returncode == 0, as_json.stderr
    payload = json.loads(as_json.stdout)
    assert payload["group_b"] == "format = long"
    assert [c["stratum"] for c in payload["comparisons"]] == ["all formats"]
    assert payload["verdict"] == payload["verdict"].strip() and "n=" in payload["verdict"]


def test_command_errors_are_one_line_with_the_exit_code(
    planted: tuple[Path, str, float], tmp_path: Path
) -> None:
    path, channel_id, _ = planted
    bad = _cli("abtest", channel_id, "duration > ", "--db", str(path))
    assert bad.returncode == 2
    assert "expected a value after '>' at column 12" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    missing = _cli("abtest", "UCnobody0000000000000000", "duration > 5", "--db", str(path))
    assert missing.returncode == 3 and "Traceback" not in missing.stderr
    nowhere = _cli("abtest", channel_id, "duration > 5", "--db", str(tmp_path / "none.duckdb"))
    assert nowhere.returncode == 10 and "no warehouse" in nowhere.stderr


def test_the_narrow_summary_shows_each_format_with_the_same_figures(planted: tuple[Path, str, float]) -> None:
    path, channel_id, _ = planted
    result = abtest(path, channel_id, "title contains '?'", now=NOW, seed=3)
    narrow = _render_at(abtest_summary(result, wide=False), width=80)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert narrow.startswith("A: title contains '?'")
    for comparison in result.comparisons:
        a, b, s = comparison.group_a, comparison.group_b, comparison.statistics
        assert comparison.stratum in narrow
        assert f"{a.n} / {b.n}" in narrow
        if s is not None:
            assert f"{s.lift:.2f}x ({s.lift_ci_low:.2f}-{s.lift_ci_high:.2f})" in narrow
            assert f"{s.welch_p:.3g} / {s.mann_whitney_p:.3g}" in narrow
            assert f"{s.achieved_power:.0%}" in narrow
    assert result.verdict.split()[0] in narrow


def test_a_format_with_too_few_videos_says_so_in_both_layouts(planted: tuple[Path, str, float]) -> None:
    path, channel_id, _ = planted
    # group B matches no video: no statistics for any format, and no median for B
    one = abtest(path, channel_id, "title contains '?'", "title contains 'no such words'", now=NOW)
    assert one.comparisons and all(c.group_b.n == 0 and c.statistics is None for c in one.comparisons)
    wide = _render(abtest_summary(one))
    narrow = _render_at(abtest_summary(one, wide=False), width=80)
    assert wide.count("too few videos") == narrow.count("too few videos") == len(one.comparisons)
    assert "median views A / B" in narrow and " / -" in narrow  # group B has no median: a dash, not 0


def _render_at(renderable: object, *, width: int) -> str:
    from rich.console import Console

    console = Console(record=True, width=width)
    console.print(renderable)
    return console.export_text()
