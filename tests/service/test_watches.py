"""Watch lists through REST, and the scheduler turning due watches into collection jobs once."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import httpx

from tests.service.conftest import serve
from tubescope.config import load_settings
from tubescope.jobs.collect import collect
from tubescope.jobs.tokens import Scope, token_store_for
from tubescope.service.app import create_app
from tubescope.service.state import ServiceOptions
from tubescope.service.watching import run_watch_tick
from tubescope.testing import running_emulator
from tubescope.warehouse import Warehouse


def _wait_jobs_done(client: httpx.Client) -> list[dict[str, object]]:
    deadline = time.monotonic() + 180
    while True:
        items: list[dict[str, object]] = client.get("/v1/jobs").json()["items"]
        if all(job["state"] in {"completed", "failed", "cancelled"} for job in items):
            return items
        assert time.monotonic() < deadline, items
        time.sleep(0.2)


def test_watches_over_rest_and_scheduled_ticks(tmp_path: Path) -> None:
    with running_emulator(seed=12, n_channels=3) as emu:
        ids = emu.world.channel_ids()[:2]
        db = tmp_path / "w.duckdb"
        collect(ids, db_path=db, api_keys=emu.keys[:1], api_base=emu.base_url)
        settings = load_settings(
            db_path=db, youtube_api_base=emu.base_url, api_keys=emu.keys[:1], watch_tick_seconds=3600
        )
        store = token_store_for(db)
        token = store.create(Scope.WRITE, "watcher")[0]
        app = create_app(settings, ServiceOptions(db_path=db, token_file=store.path))
        url, server, thread = serve(app)
        try:
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client:
                added = client.post("/v1/watches", json={"refs": ids, "every": "1d", "group": "team"})
                assert added.status_code == 201 and added.json()["added"] == 2
                assert client.post("/v1/watches", json={"refs": ["@nobody-here"]}).status_code == 404
                assert client.post("/v1/watches", json={"refs": ids, "every": "soon"}).status_code == 422
                listed = client.get("/v1/watches").json()["items"]
                assert [(row["channel_id"], row["every"]) for row in listed] == [
                    (i, "1d") for i in sorted(ids)
                ]
                planned = client.get("/v1/watches/plan").json()
                assert planned["channels"] == 2 and planned["fits"]

                state = app.state.tubescope
                start = emu.clock.now()
                for day in range(3):
                    now = start + timedelta(days=day)
                    assert asyncio.run(run_watch_tick(state, now)) == sorted(ids)
                    assert asyncio.run(run_watch_tick(state, now + timedelta(hours=1))) == []
                    jobs = _wait_jobs_done(client)
                    assert len(jobs) == day + 1 and {job["state"] for job in jobs} == {"completed"}
                # Down for five days: caught up once.
                later = start + timedelta(days=7)
                assert asyncio.run(run_watch_tick(state, later)) == sorted(ids)
                assert asyncio.run(run_watch_tick(state, later + timedelta(hours=2))) == []
                assert len(_wait_jobs_done(client)) == 4

                removed = client.delete(f"/v1/watches/{ids[1]}")
                assert removed.status_code == 200 and removed.json()["removed"] == 1
                assert [row["channel_id"] for row in client.get("/v1/watches").json()["items"]] == [ids[0]]
        finally:
            server.should_exit = True
            thread.join(timeout=30)
        with Warehouse.open(db, read_only=True) as warehouse:
            runs = warehouse.run_summaries()
        assert len(runs) == 1 + 4  # the first collect and one run per claimed tick


def test_websub_push_collects_a_new_video_and_forgeries_are_refused(tmp_path: Path) -> None:
    from tubescope.emulator.world import World
    from tubescope.jobs.common import open_for_reading
    from tubescope.servers import free_port
    from tubescope.watch.websub import sign

    world = World(seed=3, n_channels=12)
    with running_emulator(world) as emu:
        start = emu.clock.now()

        def publishes_soon(channel: str) -> bool:
            later = world.observe(start + timedelta(days=2)).uploads(channel)
            return bool(set(later) - set(world.observe(start).uploads(channel)))

        channel_id = next(c for c in world.channel_ids() if publishes_soon(c))
        db = tmp_path / "w.duckdb"
        collect([channel_id], db_path=db, api_keys=emu.keys[:1], api_base=emu.base_url)
        port = free_port()
        settings = load_settings(
            db_path=db,
            youtube_api_base=emu.base_url,
            api_keys=emu.keys[:1],
            watch_tick_seconds=3600,
            public_url=f"http://127.0.0.1:{port}",
            websub_hub=f"{emu.root_url}/websub/hub",
        )
        store = token_store_for(db)
        token = store.create(Scope.WRITE, "watcher")[0]
        app = create_app(settings, ServiceOptions(db_path=db, token_file=store.path))
        import socket

        import uvicorn

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        server = uvicorn.Server(uvicorn.Config(app, log_level="error"))
        import threading

        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        try:
            auth = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=url, headers=auth, timeout=60) as client:
                assert client.post("/v1/watches", json={"refs": [channel_id]}).status_code == 201
                state = app.state.tubescope
                asyncio.run(run_watch_tick(state, start))  # first tick: collect + subscribe
                hub = httpx.get(f"{emu.root_url}/_admin/websub").json()
                assert [s["topic"].rsplit("=", 1)[1] for s in hub["subscriptions"]] == [channel_id]
                assert hub["subscriptions"][0]["signed"]
                _wait_jobs_done(client)

                before = set(world.observe(emu.clock.now()).uploads(channel_id))
                moved = httpx.post(f"{emu.root_url}/_admin/clock", json={"advance_seconds": 2 * 86400})
                assert moved.json()["websub_pushes"] == 1
                fresh = set(world.observe(emu.clock.now()).uploads(channel_id)) - before
                delivery = httpx.get(f"{emu.root_url}/_admin/websub").json()["deliveries"][-1]
                assert delivery["status"] == 204 and set(delivery["video_ids"]) == fresh
                pushed_at = time.monotonic()
                jobs = _wait_jobs_done(client)
                assert len(jobs) == 2 and time.monotonic() - pushed_at < 60
                with open_for_reading(db) as warehouse:  # the server's own connection
                    stored = set(warehouse.query("SELECT video_id FROM videos")["video_id"])
                assert fresh <= stored

                forged = b'<feed xmlns="http://www.w3.org/2005/Atom"/>'
                refused = httpx.post(
                    f"{url}/websub/{channel_id}",
                    content=forged,
                    headers={"X-Hub-Signature": sign(forged, "x")},
                )
                assert refused.status_code == 403
                assert httpx.post(f"{url}/websub/{channel_id}", content=forged).status_code == 403
                unknown = httpx.get(
                    f"{url}/websub/{channel_id}", params={"hub.mode": "subscribe", "hub.challenge": "c"}
                )
                assert unknown.status_code == 404  # a topic we did not ask for is never confirmed
                assert len(_wait_jobs_done(client)) == 2  # no job came of the forgeries

                # Renewal: near the lease's end the tick subscribes again and the lease moves on.
                first = httpx.get(f"{emu.root_url}/_admin/websub").json()["subscriptions"][0]["expires_at"]
                asyncio.run(run_watch_tick(state, start + timedelta(days=4, hours=13)))
                renewed = httpx.get(f"{emu.root_url}/_admin/websub").json()["subscriptions"][0]["expires_at"]
                assert renewed > first
        finally:
            server.should_exit = True
            thread.join(timeout=30)
