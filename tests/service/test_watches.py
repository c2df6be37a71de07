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
