"""Broken answers, refused keys and secrets: what a user sees when the API misbehaves."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from tests.pipeline.helpers import FAST, collect, ledger_calls, rows
from tubescope.emulator.world import World
from tubescope.errors import IncompleteRun
from tubescope.logging import configure_logging, key_fingerprint
from tubescope.pipeline.run import RunState
from tubescope.testing import running_emulator

GOOGLE_SHAPED_KEY = "AIzaSyD3m0-K3y_f0r-t3st1ng-0nly-abcdefg"


class ManglingTransport(httpx.AsyncBaseTransport):
    """A real loopback connection with a misbehaving hop in front of ``videos.list`` answers."""

    def __init__(self, mangle: Callable[[bytes], bytes]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._mangle = mangle
        self.mangled = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not request.url.path.endswith("/videos") or response.status_code != 200:
            return response
        body = await response.aread()
        self.mangled += 1
        return httpx.Response(200, headers={"content-type": "application/json"}, content=self._mangle(body))

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def _world() -> World:
    return World(seed=4, n_channels=1, videos_per_channel=120)


def test_truncated_bodies_are_retried_then_the_batches_are_recorded_as_gaps_and_fetched_next_time(
    tmp_path: Path,
) -> None:
    world = _world()
    db = tmp_path / "w.duckdb"
    transport = ManglingTransport(lambda body: body[: len(body) // 2])
    with running_emulator(world) as emu:
        channel_id = world.channel_ids()[0]
        uploads = world.observe(emu.clock.now()).uploads(channel_id)
        summary = collect(emu, db, [channel_id], transport=transport)
        calls = ledger_calls(emu)
        batches = -(-len(uploads) // 50)
        assert calls["videos.list"] == batches * (FAST.max_retries + 1)  # retried, never a storm
        assert summary.status is RunState.INCOMPLETE
        assert isinstance(summary.exit_error, IncompleteRun) and summary.exit_error.exit_code != 0
        line = str(summary.exit_error)
        assert f"{len(uploads)} video(s)" in line and "not complete JSON" in line and "again" in line
        assert "\n" not in line
        assert sorted(i for g in summary.gaps for i in g.item_ids) == sorted(uploads)
        # The warehouse holds the run as 'incomplete' with that same line (schema v7).
        assert rows(db, "SELECT status, error FROM collection_runs") == [("incomplete", line)]
        quarantined = rows(db, "SELECT entity, entity_id, reason, CAST(payload AS VARCHAR) FROM quarantine")
        assert len(quarantined) == batches
        for entity, entity_id, reason, payload in quarantined:
            assert entity == "videos_batch"
            assert "not complete JSON" in reason and "7 times" in reason
            recorded = json.loads(payload)
            assert recorded["video_ids"] == entity_id.split(",") and recorded["channel_id"] == channel_id
        (report,) = summary.completeness
        assert report.found == 0 and report.not_yet_fetched == len(uploads) and report.unexplained == 0
        assert any("not fetched (errors" in reason for reason in report.reasons)
        assert not any("private" in reason for reason in report.reasons)
        # The proxy is fixed: the next ordinary collect (same refs, resumed) fetches the gaps first.
        again = collect(emu, db, [channel_id])
    assert again.status is RunState.COMPLETED and again.resumed
    assert sorted(r[0] for r in rows(db, "SELECT video_id FROM videos")) == sorted(uploads)


def test_an_item_that_fails_validation_is_quarantined_raw_and_the_rest_are_stored(tmp_path: Path) -> None:
    def spoil_first_item(body: bytes) -> bytes:
        decoded: dict[str, Any] = json.loads(body)
        decoded["items"][0]["statistics"]["viewCount"] = "n/a"
        return json.dumps(decoded).encode()

    world = _world()
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        channel_id = world.channel_ids()[0]
        uploads = world.observe(emu.clock.now()).uploads(channel_id)
        summary = collect(emu, db, [channel_id], transport=ManglingTransport(spoil_first_item))
    batches = -(-len(uploads) // 50)
    assert summary.quarantined == batches
    assert summary.videos_new == len(uploads) - batches
    stored = rows(db, "SELECT count(*) FROM videos")[0][0]
    quarantined = rows(db, "SELECT entity, entity_id, reason, CAST(payload AS VARCHAR) FROM quarantine")
    assert stored + len(quarantined) == len(uploads)  # nothing silently dropped
    for entity, entity_id, reason, payload in quarantined:
        assert entity == "video" and entity_id in uploads
        assert "statistics.viewCount" in reason
        assert json.loads(payload)["statistics"]["viewCount"] == "n/a"


@pytest.mark.usefixtures("restore_logging")
def test_the_key_never_reaches_logs_errors_or_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", json=True)  # here, not in a fixture: capsys swaps streams per phase
    world = _world()
    db = tmp_path / "w.duckdb"
    with running_emulator(world, keys={GOOGLE_SHAPED_KEY: 10_000}) as emu:
        channel_id = world.channel_ids()[0]
        emu.set_faults(seed=3, backend_error_rate=0.2)
        summary = collect(emu, db, [channel_id], keys=[GOOGLE_SHAPED_KEY])
        refused = collect(emu, tmp_path / "refused.duckdb", [channel_id], keys=[GOOGLE_SHAPED_KEY + "x"])
    captured = capsys.readouterr()
    logs = captured.out + captured.err
    assert summary.status is RunState.COMPLETED
    assert refused.status is RunState.FAILED
    assert "retrying" in logs and "run_id" in logs  # the logs were captured and carry the run id
    for line in logs.splitlines():
        if line.startswith("{") and '"collect.' in line:
            assert json.loads(line)["run_id"] in (summary.run_id, refused.run_id)
    texts = [logs, json.dumps(summary.as_dict()), json.dumps(refused.as_dict()), str(refused.exit_error)]
    for text in texts:
        assert GOOGLE_SHAPED_KEY not in text
    for path in (db, tmp_path / "refused.duckdb"):
        assert GOOGLE_SHAPED_KEY.encode() not in path.read_bytes()
    fingerprints = rows(db, "SELECT key_fingerprints FROM collection_runs")[0][0]
    assert fingerprints == [key_fingerprint(GOOGLE_SHAPED_KEY)]


class FailingBatchTransport(httpx.AsyncBaseTransport):
    """Real loopback HTTP, but every ``videos.list`` asking for ``poisoned`` answers 500."""

    def __init__(self, poisoned: str) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._poisoned = poisoned

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/videos") and self._poisoned in request.url.params.get("id", ""):
            body = {
                "error": {"code": 500, "message": "Backend Error", "errors": [{"reason": "backendError"}]}
            }
            return httpx.Response(500, json=body)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_the_next_ordinary_collect_fetches_recorded_gaps_first_even_in_a_new_incremental_run(
    tmp_path: Path,
) -> None:
    world = _world()
    db = tmp_path / "w.duckdb"
    with running_emulator(world) as emu:
        channel_id = world.channel_ids()[0]
        observation = world.observe(emu.clock.now())
        uploads = observation.uploads(channel_id)
        first = collect(emu, db, [channel_id], transport=FailingBatchTransport(uploads[60]))
        assert first.status is RunState.INCOMPLETE
        (gap,) = first.gaps
        assert uploads[60] in gap.item_ids and len(gap.item_ids) == 50
        assert len(rows(db, "SELECT video_id FROM videos")) == len(uploads) - 50
        # Another reference to the same channel: a new run, and an incremental one (the walk
        # finished), which alone would stop at the first page and never see the missing batch.
        handle = observation.channel(channel_id).handle
        second = collect(emu, db, [handle])
    assert second.status is RunState.COMPLETED and not second.resumed
    assert sorted(r[0] for r in rows(db, "SELECT video_id FROM videos")) == sorted(uploads)
