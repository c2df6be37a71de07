"""``make demo``: the whole job on the built-in emulator, offline, with no API key.

The emulator is started on a loopback port and a channel and its peers are collected once.
Then ``tubescope serve`` runs with them on its watch list while the emulator's clock runs
through ``days`` emulated days: the service's own scheduler takes every daily channel tick and
every dense sample of each new video's first 72 hours, the emulator's WebSub hub pushes each new
upload to the service, and the alert rules run after every watch job. Afterwards a view
forecaster is trained and the executive report is written, with each new video's observed first
72 hours and the alerts raised. Only the CLI calls this module.

The emulated clock moves in whole hours, and each hour as soon as the service has ticked in it
and finished the jobs it queued (virtual time): a month runs in about a minute, and a busy
machine slows the demo instead of making the scheduler miss an hour.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tubescope.config import AlertRuleSettings, Settings, load_settings
from tubescope.emulator.world import World
from tubescope.errors import TubescopeError
from tubescope.jobs.collect import collect
from tubescope.jobs.report import write_report
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.jobs.train import train
from tubescope.jobs.watch import watch_stored
from tubescope.service.app import create_app
from tubescope.service.state import ServiceOptions, ServiceState
from tubescope.testing import EmulatorHandle, running_emulator
from tubescope.warehouse.repository import Warehouse

HOUR = timedelta(hours=1)
TICK_SECONDS = 0.25
"""The service's interval timer in the demo (real seconds): a backstop only. Its scheduler ticks as
soon as the emulated clock moves (:func:`tubescope.service.watching.tick_when_clock_moves`)."""
POLL_SECONDS = 0.025
"""Between two looks at ``/v1/jobs``: at most 40 a second, under the token's limit of 50 (a faster
poll on an idle machine was refused with 429)."""
DENSE_HOURLY_HOURS = 6
"""The demo samples a new video hourly to 6 h, then every 6 h to 72 h (the default is hourly to
24 h): every 1 h, 6 h, 24 h and 72 h point the report shows is still a sample taken at that age,
with about half the watch jobs."""
BREAKOUT_RULE = AlertRuleSettings(name="breakouts", kind="breakout")
"""The demo's alert rule: a new video at 5x its channel's same-age median at 1 h, 24 h or 72 h."""


class DemoError(TubescopeError):
    """The demo's service did not keep up (a tick or job never finished, or a job failed)."""

    exit_code = 1


@dataclass(frozen=True)
class DemoOutcome:
    """What ``tubescope demo`` produced: the report, database, model and the quota it used."""

    report_path: Path
    db_path: Path
    model_dir: Path
    channel_id: str
    peer_ids: tuple[str, ...]
    collections: int
    """Completed collection runs: the first collection, then the service's watch jobs."""
    quota_used: int
    model_version: str
    hours: int
    """Emulated hours the service ran through, each with a scheduler tick."""
    started_at: datetime
    """The emulated instant the service started watching."""


def run_demo(
    out_dir: Path,
    *,
    seed: int = 7,
    n_peers: int = 3,
    days: int = 30,
    step: Callable[[str], None] = lambda _message: None,
) -> DemoOutcome:
    """Collect ``1 + n_peers`` emulated channels, watch them under ``tubescope serve`` for
    ``days`` emulated days, then train and report. Everything lands in ``out_dir`` (a fresh
    warehouse each time)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    db_path = out_dir / "demo.duckdb"
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    model_dir = out_dir / "models"
    world = World(seed=seed, n_channels=max(8, n_peers + 1))
    channel_ids = world.channel_ids()[: n_peers + 1]
    main, peers = channel_ids[0], tuple(channel_ids[1:])
    with running_emulator(world) as emulator:
        start = emulator.clock.now() - timedelta(days=days)
        emulator.set_now(start)
        step(f"collecting {len(channel_ids)} channels (emulator at {emulator.base_url})")
        with _free_socket() as sock:
            public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            settings = load_settings(
                db_path=db_path,
                youtube_api_base=emulator.base_url,
                api_keys=emulator.keys,
                model_dir=model_dir,
                requests_per_second=200.0,  # the emulator is local: the public API's pace is not needed
                public_url=public_url,
                websub_hub=f"{emulator.root_url}/websub/hub",
                alert_rules=[BREAKOUT_RULE],
                watch_dense_hourly_hours=DENSE_HOURLY_HOURS,
                cache_warming="off",  # nobody reads the dashboard during the demo
            )
            first = collect(channel_ids, settings=settings, clock=emulator.clock.now)
            if first.exit_error is not None:
                raise first.exit_error
            with Warehouse.open(db_path) as warehouse:  # what `tubescope watch add` stores
                watch_stored(warehouse, channel_ids, every=timedelta(days=1), group="demo")
            with _serving(settings, sock, emulator) as service:
                for hour in range(days * 24 + 1):
                    now = start + hour * HOUR
                    if hour % 24 == 0 and hour < days * 24:
                        day = hour // 24 + 1
                        step(f"tubescope serve watching {len(channel_ids)} channels, day {day} of {days}")
                    service.run_hour(now)
    step("training the view forecaster")
    trained = train(db_path=db_path, model_dir=model_dir, settings=settings)
    step("analysing and writing the report")
    report = write_report(db_path, main, out_dir / "report.html", peers=peers, progress=step)
    with Warehouse.open(db_path, read_only=True) as warehouse:
        runs = warehouse.fetchall("SELECT quota_spent FROM collection_runs WHERE status = 'completed'")
    return DemoOutcome(
        report_path=report.path,
        db_path=db_path,
        model_dir=model_dir,
        channel_id=main,
        peer_ids=peers,
        collections=len(runs),
        quota_used=sum(_units(spent) for (spent,) in runs),
        model_version=trained.manifest.version,
        hours=days * 24 + 1,
        started_at=start,
    )


def _units(spent: object) -> int:
    import json

    loaded: dict[str, Any] = json.loads(str(spent)) if spent else {}
    return int(sum(loaded.values()))


@dataclass
class _Service:
    state: ServiceState
    client: httpx.Client
    emulator: EmulatorHandle

    def run_hour(self, now: datetime, timeout: float = 120.0) -> None:
        """Move the emulator's clock to ``now`` (its hub pushes the hour's uploads), then wait
        until the service's scheduler has ticked at ``now`` and every job has finished."""
        if now > self.emulator.clock.now():
            moved = httpx.post(
                f"{self.emulator.root_url}/_admin/clock", json={"now": now.isoformat()}, timeout=60
            )
            moved.raise_for_status()
        deadline = time.monotonic() + timeout
        while True:
            ticked = self.state.last_watch_tick
            if ticked is not None and ticked >= now and self._idle():
                return
            if time.monotonic() > deadline:
                raise DemoError(f"the service's scheduler did not finish the tick at {now.isoformat()}")
            time.sleep(POLL_SECONDS)

    def _idle(self) -> bool:
        answer = self.client.get("/v1/jobs")
        if answer.status_code == 429:
            # Over the token's rate: wait as the service asks, then look again.
            time.sleep(float(answer.headers.get("Retry-After", "1")))
            return False
        answer.raise_for_status()
        items: list[dict[str, Any]] = answer.json()["items"]
        failed = [job for job in items if job["state"] == "failed"]
        if failed:
            raise DemoError(f"a watch job failed: {failed[0].get('error')}")
        return all(job["state"] in {"completed", "cancelled"} for job in items)


@contextmanager
def _free_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


@contextmanager
def _serving(settings: Settings, sock: socket.socket, emulator: EmulatorHandle) -> Iterator[_Service]:
    """``tubescope serve`` in a thread on ``sock``, its watch scheduler on the emulator's clock."""
    store = token_store_for(settings.db_path)
    token = store.create(Scope.WRITE, "demo")[0]
    options = ServiceOptions(
        db_path=settings.db_path, token_file=store.path, clock=emulator.clock, watch_tick_seconds=TICK_SECONDS
    )
    # Ticks every 10 ms overlap by design here; APScheduler would warn of each one it skips.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    app = create_app(settings, options)
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="demo-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise DemoError("tubescope serve did not start")
        time.sleep(0.02)
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            yield _Service(app.state.tubescope, client, emulator)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
