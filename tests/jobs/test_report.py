"""The report job and command against a real DuckDB warehouse filled with planted channels."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.analysis.planted_frames import Planted, PlantedChannel, build_channel, combine
from tests.report.conftest import HOSTILE_TITLE
from tests.report.warehouse_fill import fill_warehouse
from tubescope.errors import ChannelNotFound, ConfigError, StorageError
from tubescope.jobs.report import ReportFormat, find_chromium, write_report

SUBJECT = "UCplanted000000000000000"
PEER = "UCpeerchannel00000000001"


def _renamed(channel: PlantedChannel, title: str, handle: str) -> PlantedChannel:
    channels = channel.frames.channels.assign(title=title, handle=handle)
    return dataclasses.replace(channel, frames=dataclasses.replace(channel.frames, channels=channels))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    subject = build_channel(Planted(weekday_lift={1: 1.8}, seed=3, n_videos=70, days=75))
    videos = subject.frames.videos.copy()
    videos.loc[videos.index[-1], "title"] = HOSTILE_TITLE
    subject = dataclasses.replace(subject, frames=dataclasses.replace(subject.frames, videos=videos))
    peer = _renamed(
        build_channel(Planted(channel_id=PEER, seed=5, n_videos=30, days=75, base_views=8_000.0)),
        "Peer <b>channel</b>",
        "@peerchannel",
    )
    path = tmp_path_factory.mktemp("warehouse") / "tubescope.duckdb"
    fill_warehouse(path, combine(subject, peer))
    return path


def test_report_is_one_self_contained_page_about_the_channel_and_its_peer(
    warehouse: Path, tmp_path: Path
) -> None:
    steps: list[str] = []
    out = tmp_path / "nested" / "report.html"
    outcome = write_report(warehouse, "@planted", out, peers=["@peerchannel"], progress=steps.append)

    assert outcome.channel_id == SUBJECT and outcome.peer_ids == (PEER,)
    assert outcome.report_format is ReportFormat.HTML and out.is_file()
    assert steps[0] == "loading the warehouse" and any("peer" in s for s in steps)
    page = out.read_text(encoding="utf-8")
    assert outcome.size_bytes == len(page.encode("utf-8"))
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    assert "Peer &lt;b&gt;channel&lt;/b&gt;" in page and HOSTILE_TITLE not in page
    assert outcome.model.peers is not None and len(outcome.model.peers.channels) == 2
    # The report's clock is the last collection, so the KPI window is full of data.
    last = outcome.model.window.end
    assert outcome.model.window.n_channel_snapshots > 0
    uploads = next(k for k in outcome.model.kpis if k.key == "uploads")
    assert uploads.value and uploads.value > 0
    assert last.tzinfo is not None
    assert [p.name for p in out.parent.iterdir()] == ["report.html"], "no temporary file left behind"
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_unknown_channel_missing_warehouse_and_bad_format_are_clear_errors(
    warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    with pytest.raises(ChannelNotFound, match="tubescope collect"):
        write_report(warehouse, "@nobodyhere", out)
    with pytest.raises(StorageError, match="no warehouse"):
        write_report(tmp_path / "absent.duckdb", "@planted", out)
    with pytest.raises(ConfigError, match="available formats: html, pdf, png"):
        write_report(warehouse, "@planted", out, report_format="docx")
    assert not out.exists()


def test_pdf_without_chromium_names_the_formats_that_work(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("TUBESCOPE_CHROMIUM", raising=False)
    assert find_chromium() is None
    out = tmp_path / "r.pdf"
    with pytest.raises(ConfigError, match="available formats here: html"):
        write_report(warehouse, "@planted", out, report_format="pdf")
    assert not out.exists()


@pytest.mark.browser
@pytest.mark.parametrize(("kind", "magic"), [("pdf", b"%PDF-"), ("png", b"\x89PNG\r\n\x1a\n")])
def test_pdf_and_png_are_printed_by_chromium(
    warehouse: Path, tmp_path: Path, kind: str, magic: bytes
) -> None:
    if find_chromium() is None:
        pytest.skip("no Chromium on PATH: run `make browser` (needs root apt-get)")
    out = tmp_path / f"report.{kind}"
    outcome = write_report(warehouse, SUBJECT, out, report_format=kind)
    assert out.read_bytes().startswith(magic)
    assert outcome.size_bytes > 20_000


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    command = [sys.executable, "-m", "tubescope.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False, env=env)


def test_report_command_writes_the_file_and_prints_the_summary(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.html"
    # Peers may be repeated or comma-separated; the same channel named twice counts once.
    result = _cli(
        "report", "@planted", "--db", str(warehouse), "--peers", f"{PEER},@peerchannel", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert out.is_file() and out.stat().st_size > 1_000_000
    assert "Key figures" in result.stdout and "Recommendations" in result.stdout
    assert f"wrote {out}" in result.stderr
    assert "Peer <b>channel</b>" not in out.read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8").count('class="num peer-name"') == 2


def test_report_command_errors_are_one_line_with_the_exit_code(warehouse: Path, tmp_path: Path) -> None:
    missing = _cli("report", "@nobodyhere", "--db", str(warehouse), "--out", str(tmp_path / "x.html"))
    assert missing.returncode == 3 and "Traceback" not in missing.stderr
    assert "not in the warehouse" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_render_report_serves_from_an_open_warehouse_without_writing(warehouse: Path, tmp_path: Path) -> None:
    from tubescope.jobs.report import render_report
    from tubescope.warehouse.repository import Warehouse

    before = set(tmp_path.iterdir())
    with Warehouse.open(warehouse, read_only=True) as open_warehouse:
        rendered = render_report(open_warehouse, SUBJECT, peers=[PEER], window_days=14)
    assert rendered.channel_id == SUBJECT and rendered.peer_ids == (PEER,)
    assert rendered.html.startswith("<!DOCTYPE html>") and "Planted channel" in rendered.html
    assert rendered.model.window.end - rendered.model.window.start == timedelta(days=14)
    assert len(rendered.recommendations) >= 1 and set(tmp_path.iterdir()) == before


PAGE = "<!doctype html><html><body><h1>Printed by Chromium</h1><p>no charts here</p></body></html>"


@pytest.mark.browser
def test_without_playwright_the_chromium_command_line_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An install without the dev extras has no Playwright: Chromium's own --print-to-pdf and
    --screenshot do the printing."""
    from tubescope.jobs.report import print_html

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium on PATH: run `make browser` (needs root apt-get)")
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # `import` raises ImportError
    for kind, magic in ((ReportFormat.PDF, b"%PDF-"), (ReportFormat.PNG, b"\x89PNG\r\n\x1a\n")):
        out = tmp_path / "out" / f"page.{kind.value}"
        print_html(PAGE, out, kind)
        assert out.read_bytes().startswith(magic)
        assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("playwright", [True, False], ids=["playwright", "command-line"])
def test_a_chromium_that_fails_or_prints_nothing_is_a_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, playwright: bool
) -> None:
    from tubescope.jobs.report import print_html

    if not playwright:
        monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    out = tmp_path / "r.pdf"
    failing, silent = Path("/bin/false"), Path("/bin/true")
    with pytest.raises(StorageError, match="Chromium could not print the report"):
        print_html(PAGE, out, ReportFormat.PDF, chromium=failing)
    if not playwright:  # exits 0 and writes nothing
        with pytest.raises(StorageError, match="Chromium did not produce a PDF file"):
            print_html(PAGE, out, ReportFormat.PDF, chromium=silent)
    assert not out.exists()


def test_report_comparisons_skip_what_matches_nothing_and_refuse_a_bad_filter(warehouse: Path) -> None:
    from tubescope.errors import InvalidQuery
    from tubescope.jobs.report import render_report
    from tubescope.warehouse.repository import Warehouse

    with Warehouse.open(warehouse, read_only=True) as open_warehouse:
        shown = render_report(
            open_warehouse, SUBJECT, ab_filters=["tag_count >= 0", "title contains 'zq-none'"]
        )
        with pytest.raises(InvalidQuery, match="at column"):
            render_report(open_warehouse, SUBJECT, ab_filters=["duration > "])
        with pytest.raises(ConfigError, match="--window-days must be at least 1, not 0"):
            render_report(open_warehouse, SUBJECT, window_days=0)
    with pytest.raises(ConfigError, match="--window-days must be at least 1"):
        write_report(warehouse, SUBJECT, Path("never-written.html"), window_days=-3)
    assert not Path("never-written.html").exists()
    # no video matches 'zq-none', and every video has tag_count >= 0 (so its B is empty): neither
    # comparison has statistics: neither appears as a result (no row of zeros), the notes say why
    assert shown.model.ab_tests == ()
    assert "Not enough videos to compare: n=0 vs" in shown.html


def test_an_unwritable_destination_is_a_storage_error_naming_it(warehouse: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "report.html"
    with pytest.raises(StorageError, match=f"cannot write the report to {out}"):
        write_report(warehouse, SUBJECT, out)


@pytest.mark.browser
def test_printing_over_a_folder_leaves_no_temporary_file(tmp_path: Path) -> None:
    from tubescope.jobs.report import print_html

    if find_chromium() is None:
        pytest.skip("no Chromium on PATH: run `make browser` (needs root apt-get)")
    out = tmp_path / "taken.png"
    (out / "inside").mkdir(parents=True)  # a non-empty folder where the file should go
    with pytest.raises(StorageError, match="cannot write the report to"):
        print_html(PAGE, out, ReportFormat.PNG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.png"]


def test_the_configured_chromium_is_found_before_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "my-chromium"
    mine.write_text("#!/bin/sh\nexit 0\n")
    mine.chmod(0o755)
    monkeypatch.setenv("TUBESCOPE_CHROMIUM", str(mine))
    assert find_chromium() == mine
    assert find_chromium(Path("/bin/true")) == Path("/bin/true")  # an explicit one comes first
    mine.chmod(0o644)  # not executable: skipped
    assert find_chromium() != mine
