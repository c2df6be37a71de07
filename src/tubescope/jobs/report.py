"""The ``report`` job: warehouse -> analysis -> ReportModel -> one self-contained HTML (or PDF/PNG) file.

The report's clock defaults to the last time the channel was observed, so a report built from an
older collection describes that collection rather than an empty "last 28 days". PDF and PNG are
printed by headless Chromium (through the ``playwright`` package when it is installed, else the
``chromium`` command line); without a Chromium the job says which formats are available.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import pandas as pd

from tubescope.analysis.abtest import AbTestResult, run_ab_test, same_age_views
from tubescope.analysis.benchmark import BenchmarkResult, benchmark_channel
from tubescope.analysis.features import gc_paused, id_positions
from tubescope.analysis.frames import ChannelFrames
from tubescope.analysis.summary import analyze_channel, fleet_kpis
from tubescope.errors import ConfigError, InvalidQuery, StorageError, TubescopeError
from tubescope.jobs.common import (
    last_observed,
    load_channel_frames,
    newest_observation,
    open_for_reading,
    resolve_stored_channel,
    utc_now,
)
from tubescope.report.adapter import Lineage, ReportOptions, build_report_model
from tubescope.report.html import render_html
from tubescope.report.model import RaisedAlert, Recommendation, ReportModel
from tubescope.report.recommendations import build_recommendations
from tubescope.warehouse.repository import Warehouse
from tubescope.warehouse.target import WarehouseTarget

DEFAULT_AB_FILTERS: tuple[str, ...] = ("title contains '?'", "tag_count >= 10")
"""Comparisons every report runs (each against the rest of the channel's videos)."""
CHROMIUM_CANDIDATES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)
CHROMIUM_ARGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
PRINT_TIMEOUT_SECONDS = 120
# The PDF is A4 at 70%: Chromium lays the page out 794 / 0.7 CSS px wide, so the charts are drawn at
# that width before printing (drawn wider, their right edge would be cut off the page).
PDF_SCALE = 0.7
PDF_LAYOUT_WIDTH_PX = round(794 / PDF_SCALE)

Progress = Callable[[str], None]


class ReportFormat(StrEnum):
    """The file format of a report."""

    HTML = "html"
    PDF = "pdf"
    PNG = "png"


@dataclass(frozen=True)
class ReportOutcome:
    """What a report job produced: the file, its format, channels, model and size."""

    path: Path
    report_format: ReportFormat
    channel_id: str
    peer_ids: tuple[str, ...]
    model: ReportModel
    n_recommendations: int
    size_bytes: int


@dataclass(frozen=True)
class RenderedReport:
    """A report in memory: for callers that serve it rather than write it (the web service)."""

    channel_id: str
    peer_ids: tuple[str, ...]
    model: ReportModel
    recommendations: tuple[Recommendation, ...]
    html: str


def render_report(
    warehouse: Warehouse,
    channel: str,
    *,
    peers: Sequence[str] = (),
    now: datetime | None = None,
    window_days: int | None = None,
    ab_filters: Sequence[str] = DEFAULT_AB_FILTERS,
    progress: Progress | None = None,
) -> RenderedReport:
    """The report of ``channel`` from an open warehouse, as an HTML string (nothing is written)."""
    with gc_paused():  # the analysis, the model and the charts: short-lived objects by the million
        return _render_report(warehouse, channel, peers, now, window_days, ab_filters, progress)


def _render_report(
    warehouse: Warehouse,
    channel: str,
    peers: Sequence[str],
    now: datetime | None,
    window_days: int | None,
    ab_filters: Sequence[str],
    progress: Progress | None,
) -> RenderedReport:
    if window_days is not None and window_days < 1:
        raise ConfigError(f"--window-days must be at least 1, not {window_days}")
    step = progress or (lambda _message: None)
    channel_id = resolve_stored_channel(warehouse, channel)
    peer_ids = tuple(dict.fromkeys(p for p in (resolve_stored_channel(warehouse, r) for r in peers)
                                   if p != channel_id))  # fmt: skip
    frames = load_channel_frames(warehouse, [channel_id, *peer_ids])
    lineage = _lineage(warehouse, channel_id)
    reference = now or newest_observation(warehouse)
    clock = now or last_observed(frames, channel_id) or reference or utc_now()

    step("analysing the channel")
    analysis = analyze_channel(frames, channel_id, clock, reference=reference)
    benchmark, fleet = _benchmark(frames, channel_id, peer_ids, now, reference, step)
    step("running A/B comparisons")
    ab_tests = _ab_tests(_only(frames, channel_id), ab_filters, clock)

    step("building the report")
    model = build_report_model(
        analysis, frames, now=clock, benchmark=benchmark, fleet=fleet, ab_tests=ab_tests, lineage=lineage,
        options=ReportOptions(window_days=window_days, retention=_retention_note()), generated_at=utc_now(),
        alerts=raised_alerts(warehouse, frames, [channel_id, *peer_ids]),
    )  # fmt: skip
    recommendations = build_recommendations(model)
    return RenderedReport(channel_id, peer_ids, model, recommendations, render_html(model, recommendations))


ALERTS_VERSION = 9
"""The schema version that added the ``alerts`` table."""


def raised_alerts(
    warehouse: Warehouse, frames: ChannelFrames, channel_ids: Sequence[str]
) -> list[RaisedAlert]:
    """The alerts stored about ``channel_ids`` (newest first, 50 each), for the report."""
    if warehouse.schema_version < ALERTS_VERSION:
        return []
    from tubescope.warehouse.alerts import list_alerts

    titles = dict(
        zip(frames.channels["channel_id"].astype(str), frames.channels["title"].astype(str), strict=True)
    )
    return [
        RaisedAlert(
            fired_at=alert.fired_at,
            rule=alert.rule,
            channel_title=titles.get(channel_id, channel_id),
            video_id=alert.video_id,
            value=alert.value,
            message=alert.message,
        )
        for channel_id in channel_ids
        for alert in list_alerts(warehouse, channel_id=channel_id, limit=50)
    ]


def _retention_note() -> str:
    from tubescope.config import load_settings
    from tubescope.jobs.retention import policy_from

    return policy_from(load_settings()).describe()


def write_report(
    db_path: WarehouseTarget,
    channel: str,
    out: Path,
    *,
    peers: Sequence[str] = (),
    report_format: ReportFormat | str = ReportFormat.HTML,
    now: datetime | None = None,
    window_days: int | None = None,
    ab_filters: Sequence[str] = DEFAULT_AB_FILTERS,
    progress: Progress | None = None,
    chromium: Path | None = None,
) -> ReportOutcome:
    """Analyse ``channel`` (UC… id, @handle or URL of a collected channel) and write its report to ``out``.

    ``peers`` are other collected channels to position it against. Raises
    :class:`~tubescope.errors.ChannelNotFound` for a channel never collected and
    :class:`~tubescope.errors.ConfigError` for an unknown format or a missing Chromium.
    """
    chosen = _parse_format(report_format)
    if window_days is not None and window_days < 1:
        raise ConfigError(f"--window-days must be at least 1, not {window_days}")
    if Path(out).is_dir():
        raise ConfigError(
            f"--out {out} is a folder; give the report's file name, e.g. {Path(out) / 'report.html'}"
        )
    step = progress or (lambda _message: None)
    if chosen is not ReportFormat.HTML:
        _require_printer(chromium)  # fail before the analysis, not after it

    step("loading the warehouse")
    with open_for_reading(db_path) as warehouse:
        rendered = render_report(
            warehouse, channel, peers=peers, now=now, window_days=window_days, ab_filters=ab_filters,
            progress=step,
        )  # fmt: skip

    step(f"writing {out}")
    out = Path(out)
    if chosen is ReportFormat.HTML:
        _write_atomically(out, rendered.html.encode("utf-8"))
    else:
        print_html(rendered.html, out, chosen, chromium)
    return ReportOutcome(
        path=out,
        report_format=chosen,
        channel_id=rendered.channel_id,
        peer_ids=rendered.peer_ids,
        model=rendered.model,
        n_recommendations=len(rendered.recommendations),
        size_bytes=out.stat().st_size,
    )


def _parse_format(value: ReportFormat | str) -> ReportFormat:
    try:
        return ReportFormat(str(value).lower())
    except ValueError:
        available = ", ".join(f.value for f in ReportFormat)
        raise ConfigError(f"unknown report format {value!r}; available formats: {available}") from None


def _only(frames: ChannelFrames, channel_id: str) -> ChannelFrames:
    videos = frames.videos[frames.videos["channel_id"].astype(str) == channel_id].reset_index(drop=True)
    return ChannelFrames(
        channels=frames.channels[frames.channels["channel_id"].astype(str) == channel_id],
        videos=videos,
        video_snapshots=frames.video_snapshots[
            id_positions(frames.video_snapshots["video_id"], videos["video_id"]) >= 0
        ],
        channel_snapshots=frames.channel_snapshots[
            frames.channel_snapshots["channel_id"].astype(str) == channel_id
        ],
        early_points=frames.early_points,  # keyed by video: other channels' points never match
    )


def _benchmark(
    frames: ChannelFrames,
    channel_id: str,
    peer_ids: Sequence[str],
    now: datetime | None,
    reference: datetime | None,
    step: Progress,
) -> tuple[BenchmarkResult | None, pd.DataFrame | None]:
    """Peer KPIs, each channel as of its own last observation (at or before ``now`` when given):
    the figures ``compare`` and the REST API give for the same channels."""
    if not peer_ids:
        return None, None
    step(f"comparing with {len(peer_ids)} peer(s)")
    fleet = fleet_kpis(frames, now, [channel_id, *peer_ids])
    return benchmark_channel(fleet, channel_id, peer_ids=list(peer_ids), reference=reference), fleet


def _ab_tests(frames: ChannelFrames, filters: Sequence[str], now: datetime) -> list[AbTestResult]:
    results = []
    at_age = same_age_views(frames) if filters else None  # the same for every comparison
    for expression in filters:
        try:
            results.append(run_ab_test(frames, expression, now=now, at_age=at_age))
        except InvalidQuery:
            raise
        except TubescopeError:
            continue  # e.g. no video matches: the comparison simply does not appear
    return results


def _lineage(warehouse: Warehouse, channel_id: str) -> Lineage:
    runs = [
        r for r in warehouse.run_summaries(limit=200) if not r.channel_refs or channel_id in r.channel_refs
    ]
    if not runs:
        runs = warehouse.run_summaries(limit=20)
    return Lineage(
        sources=tuple(dict.fromkeys(r.source for r in runs)),
        run_ids=tuple(f"#{r.run_id} ({r.status}, {r.started_at:%Y-%m-%d %H:%M})" for r in runs[:10]),
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """Write next to ``path`` and rename, so a failure never leaves half a report behind.

    A folder that cannot be made, a full disk or a missing permission is a
    :class:`~tubescope.errors.StorageError` naming the path, never an internal error.
    """
    try:
        _write_or_raise(path, data)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StorageError(f"cannot write the report to {path}: {reason}") from None


def _write_or_raise(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        # mkstemp makes the file private (0600); a report is an ordinary document (0666 - umask).
        mask = os.umask(0)
        os.umask(mask)
        Path(temporary).chmod(0o666 & ~mask)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- PDF / PNG ------------------------------------------------------------------------------------


def find_chromium(explicit: Path | None = None) -> Path | None:
    """The Chromium to print with: ``explicit``, ``$TUBESCOPE_CHROMIUM``, or one on ``PATH``."""
    candidates = [explicit] if explicit is not None else []
    configured = os.environ.get("TUBESCOPE_CHROMIUM")
    if configured:
        candidates.append(Path(configured))
    candidates.extend(Path(found) for name in CHROMIUM_CANDIDATES if (found := shutil.which(name)))
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def _require_printer(chromium: Path | None) -> Path:
    found = find_chromium(chromium)
    if found is None:
        raise ConfigError(
            "PDF and PNG reports are printed by headless Chromium, which was not found "
            "(install it with `make browser` or set TUBESCOPE_CHROMIUM); available formats here: html"
        )
    return found


def print_html(page: str, out: Path, chosen: ReportFormat, chromium: Path | None = None) -> None:
    """Print a rendered report page to ``out`` as PDF or PNG with headless Chromium (atomically).

    Raises :class:`~tubescope.errors.ConfigError` when no Chromium is found and
    :class:`~tubescope.errors.StorageError` when it cannot print.
    """
    binary = _require_printer(chromium)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tubescope-report-") as work:
        source = Path(work) / "report.html"
        source.write_text(page, encoding="utf-8")
        target = Path(work) / f"report.{chosen.value}"
        try:
            _print_with_playwright(binary, source, target, chosen)
        except ImportError:
            _print_with_cli(binary, source, target, chosen, Path(work) / "profile")
        if not target.is_file() or target.stat().st_size == 0:
            raise StorageError(f"Chromium did not produce a {chosen.value.upper()} file")
        _write_atomically(out, target.read_bytes())


def _print_with_playwright(binary: Path, source: Path, target: Path, chosen: ReportFormat) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(binary), args=list(CHROMIUM_ARGS))
            try:
                width = PDF_LAYOUT_WIDTH_PX if chosen is ReportFormat.PDF else 1280
                tab = browser.new_page(viewport={"width": width, "height": 900})
                tab.goto(source.as_uri(), wait_until="load")
                tab.wait_for_function(
                    "Array.from(document.querySelectorAll('.plotly-graph-div'))"
                    ".every(div => div.querySelector('svg.main-svg'))",
                    timeout=PRINT_TIMEOUT_SECONDS * 1000,
                )
                if chosen is ReportFormat.PDF:
                    tab.emulate_media(media="screen")
                    tab.pdf(path=str(target), format="A4", print_background=True, scale=PDF_SCALE)
                else:
                    tab.screenshot(path=str(target), full_page=True)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise StorageError(f"Chromium could not print the report: {exc}") from None


def _print_with_cli(binary: Path, source: Path, target: Path, chosen: ReportFormat, profile: Path) -> None:
    command = [str(binary), *CHROMIUM_ARGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000"]
    if chosen is ReportFormat.PDF:
        command += ["--no-pdf-header-footer", f"--print-to-pdf={target}"]
    else:
        command += ["--hide-scrollbars", "--window-size=1280,9000", f"--screenshot={target}"]
    try:
        subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            [*command, source.as_uri()], capture_output=True, timeout=PRINT_TIMEOUT_SECONDS, check=True
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise StorageError(f"Chromium could not print the report: {exc}") from None
