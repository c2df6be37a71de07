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
