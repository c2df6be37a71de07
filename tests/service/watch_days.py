"""Run ``tubescope serve`` with a watch list through emulated days (a helper for watch tests).

:func:`watched_service` starts the emulator and the service on loopback (WebSub callbacks
included), collects and watches the channels; :meth:`WatchedService.run_days` then moves the
emulator's clock hour by hour (its hub pushes new uploads to the service), lets the scheduler
tick at each hour and waits for the jobs it queued. The world's truth for the same span is
:meth:`WatchedService.truth`, ready for :func:`tubescope.watch.plan.replay`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tubescope.config import Settings, load_settings
from tubescope.emulator.quota import bucket_of
from tubescope.emulator.world import World
from tubescope.jobs.collect import collect
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.service.app import create_app
from tubescope.service.state import ServiceOptions
from tubescope.service.watching import run_watch_tick
from tubescope.testing import EmulatorHandle, running_emulator
from tubescope.watch.plan import Upload

HOUR = timedelta(hours=1)


def ledger_units(emulator: EmulatorHandle) -> dict[str, int]:
    """Units every key spent so far, per quota bucket (the emulator's own ledger)."""
    spent: dict[str, int] = {}
    for key in emulator.ledger.keys:
        for method, usage in emulator.ledger.usage(key).items():
            bucket = bucket_of(method)
            spent[bucket] = spent.get(bucket, 0) + usage.units
    return spent


@dataclass
class WatchedService:
    """A running service watching ``channel_ids`` against a running emulator."""

    emulator: EmulatorHandle
    app: FastAPI
    client: httpx.Client
    settings: Settings
    db: Path
    channel_ids: list[str]
    start: datetime
    known_at_start: frozenset[str]
    ticks: list[datetime] = field(default_factory=list)
    hours: int = 0
    """Hours of the run so far (ticked or down)."""

    def wait_for_jobs(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Wait until no job of the service is queued or running; returns the latest records."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.client.get("/v1/jobs")
            if answer.status_code == 429:  # the token's rate limit (50 a second): wait as asked
                time.sleep(float(answer.headers.get("retry-after", "1")))
                continue
            assert answer.status_code == 200, answer.text
            items: list[dict[str, Any]] = answer.json()["items"]
            if all(job["state"] in {"completed", "failed", "cancelled"} for job in items):
                return items
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still running: {items[:3]}")
            time.sleep(0.025)  # 40 polls a second at most, under the token's limit

    def tick(self, now: datetime) -> list[str]:
        """One scheduler tick at ``now`` (what the service's timer does), its jobs finished."""
        claimed = asyncio.run(run_watch_tick(self.app.state.tubescope, now))
        self.wait_for_jobs()
        self.ticks.append(now)
        return claimed

    def run_days(
        self,
        days: int,
        *,
        each_hour: Callable[[datetime], None] | None = None,
        down: Callable[[datetime], bool] | None = None,
    ) -> None:
        """Ticks at the start and at every whole hour of ``days`` emulated days after it.

        Before each tick the emulator's clock moves to it (its hub pushes the uploads of the hour
        to the service, whose jobs finish first). ``each_hour`` runs after every tick. Hours for
        which ``down`` is true have no tick (the scheduler was down; pushes still arrive).
        """
        for hour in range(self.hours, self.hours + days * 24 + (1 if self.hours == 0 else 0)):
            now = self.start + hour * HOUR
            self.hours = hour + 1
            if now > self.emulator.clock.now():
                moved = httpx.post(
                    f"{self.emulator.root_url}/_admin/clock", json={"now": now.isoformat()}, timeout=60
                )
                moved.raise_for_status()
                self.wait_for_jobs()
            if down is not None and down(now):
                continue
            self.tick(now)
            if each_hour is not None:
                each_hour(now)

    def planted_breakouts(self, since: datetime | None = None) -> dict[str, str]:
        """``video_id -> channel_id`` of the world's planted breakout videos (its truth) of the
        watched channels published after ``since`` (default: the start) and by the last tick."""
        end = self.ticks[-1] if self.ticks else self.start
        after = self.start if since is None else since
        planted: dict[str, str] = {}
        for upload in self.truth():
            truth = self.emulator.world.channel_truth(upload.channel_id)
            if upload.video_id in truth.breakout_video_ids and after < upload.published_at <= end:
                planted[upload.video_id] = upload.channel_id
        return planted

    def truth(self) -> list[Upload]:
        """Every video of the watched channels listed at some point up to the last tick, with
        when it was published and (hour by hour) when it was removed."""
        world: World = self.emulator.world
        end = self.ticks[-1] if self.ticks else self.start
        uploads: list[Upload] = []
        for channel_id in self.channel_ids:
            at_end = world.observe(end)
            listed = set(world.observe(self.start).uploads(channel_id)) | set(at_end.uploads(channel_id))
            removed = set(at_end.removed_video_ids(channel_id))
            for video_id in sorted(listed):
                state = at_end.video(video_id) or world.observe(self.start).video(video_id)
                assert state is not None
                removed_at = None
                if video_id in removed:
                    removed_at = next(
                        t for t in self.ticks if video_id in world.observe(t).removed_video_ids(channel_id)
                    )
                uploads.append(Upload(video_id, channel_id, state.published_at, removed_at))
        return uploads


@contextmanager
def watched_service(
    tmp_path: Path,
    *,
    seed: int = 21,
    n_channels: int = 5,
    watch: int = 5,
    world: World | None = None,
    **settings: Any,
) -> Iterator[WatchedService]:
    """The emulator (``world``, by default ``World(seed, n_channels)``; its clock at
    2026-10-01 12:00) and the service on loopback, ``watch`` channels collected and watched
    daily, WebSub subscribed. ``settings`` override the service's."""
    world = world or World(seed=seed, n_channels=n_channels)
    with running_emulator(world) as emu:
        channel_ids = world.channel_ids()[:watch]
        db = tmp_path / "watch.duckdb"
        collect(channel_ids, db_path=db, api_keys=emu.keys[:1], api_base=emu.base_url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        cfg = load_settings(
            db_path=db,
            youtube_api_base=emu.base_url,
            api_keys=emu.keys[:1],
            watch_tick_seconds=86_400,  # the test ticks on the emulated clock, not the timer
            public_url=url,
            websub_hub=f"{emu.root_url}/websub/hub",
            **settings,
        )
        store = token_store_for(db)
        token = store.create(Scope.WRITE, "watcher")[0]
        app = create_app(cfg, ServiceOptions(db_path=db, token_file=store.path))
        server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
            time.sleep(0.02)
        try:
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client:
                added = client.post("/v1/watches", json={"refs": channel_ids, "every": "1d"})
                assert added.status_code == 201, added.text
                known = frozenset(v for c in channel_ids for v in world.observe(emu.clock.now()).uploads(c))
                yield WatchedService(
                    emulator=emu,
                    app=app,
                    client=client,
                    settings=cfg,
                    db=db,
                    channel_ids=channel_ids,
                    start=emu.clock.now(),
                    known_at_start=known,
                )
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            sock.close()
