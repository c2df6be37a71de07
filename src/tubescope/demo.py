"""``make demo``: the whole job on the built-in emulator, offline, with no API key.

The emulator is started on a loopback port, a channel and its peers are collected on several
days of the world's clock (so growth and same-age figures have real snapshots), analysed, a view
forecaster is trained, and the executive report is written. Only the CLI calls this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tubescope.config import load_settings
from tubescope.emulator.world import World
from tubescope.jobs.collect import collect
from tubescope.jobs.report import write_report
from tubescope.jobs.train import train
from tubescope.testing import running_emulator


@dataclass(frozen=True)
class DemoOutcome:
    """What ``tubescope demo`` produced: the report, database, model and the quota it used."""

    report_path: Path
    db_path: Path
    model_dir: Path
    channel_id: str
    peer_ids: tuple[str, ...]
    collections: int
    quota_used: int
    model_version: str


def run_demo(
    out_dir: Path,
    *,
    seed: int = 7,
    n_peers: int = 3,
    days: int = 30,
    step: Callable[[str], None] = lambda _message: None,
) -> DemoOutcome:
    """Collect ``1 + n_peers`` emulated channels once a day for ``days`` days, then analyse,
    train and report. Everything lands in ``out_dir`` (a fresh warehouse each time)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "demo.duckdb"
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    model_dir = out_dir / "models"
    world = World(seed=seed, n_channels=max(8, n_peers + 1))
    channel_ids = world.channel_ids()[: n_peers + 1]
    main, peers = channel_ids[0], tuple(channel_ids[1:])
    quota = 0
    with running_emulator(world) as emulator:
        settings = load_settings(
            db_path=db_path,
            youtube_api_base=emulator.base_url,
            api_keys=emulator.keys,
            model_dir=model_dir,
            requests_per_second=200.0,  # the emulator is local: the public API's pace is not needed
        )
        start = emulator.clock.now() - timedelta(days=days - 1)
        for day in range(days):
            emulator.set_now(start + timedelta(days=day))
            step(
                f"collecting {len(channel_ids)} channels, day {day + 1} of {days} "
                f"(emulator at {emulator.base_url})"
            )
            summary = collect(channel_ids, settings=settings, clock=emulator.clock.now)
            if summary.exit_error is not None:
                raise summary.exit_error
            quota += summary.quota_used
    step("training the view forecaster")
    trained = train(db_path=db_path, model_dir=model_dir, settings=settings)
    step("analysing and writing the report")
    report = write_report(db_path, main, out_dir / "report.html", peers=peers, progress=step)
    return DemoOutcome(
        report_path=report.path,
        db_path=db_path,
        model_dir=model_dir,
        channel_id=main,
        peer_ids=peers,
        collections=days,
        quota_used=quota,
        model_version=trained.manifest.version,
    )
