"""Each injected fault is observable by a plain httpx client over loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tubescope.emulator.faults import FaultConfig, FaultInjector
from tubescope.emulator.world import World
from tubescope.testing import EmulatorHandle, fixed_clock, running_emulator

from .conftest import NOW


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(World(seed=17, n_channels=3), clock=fixed_clock(NOW)) as handle:
        yield handle
    _HTTP.close()


_HTTP = httpx.Client(timeout=5)


def _get(emulator: EmulatorHandle) -> httpx.Response:
    params = {"part": "id", "id": emulator.world.channel_id(0), "key": emulator.keys[0]}
    return _HTTP.get(f"{emulator.base_url}/channels", params=params)


@pytest.mark.parametrize(
    ("setting", "status", "reason"),
    [
        ("backend_error_rate", 500, "backendError"),
        ("unavailable_rate", 503, "backendError"),
        ("too_many_requests_rate", 429, "rateLimitExceeded"),
        ("rate_limit_rate", 403, "rateLimitExceeded"),
    ],
)
def test_error_faults_answer_with_real_error_bodies(
    emulator: EmulatorHandle, setting: str, status: int, reason: str
) -> None:
    emulator.set_faults(**{setting: 1.0})
    try:
        resp = _get(emulator)
    finally:
        emulator.set_faults()
    assert resp.status_code == status
    assert resp.json()["error"]["errors"][0]["reason"] == reason
    assert resp.json()["error"]["code"] == status
    assert _get(emulator).status_code == 200


def test_rate_limit_comes_in_bursts(emulator: EmulatorHandle) -> None:
    emulator.set_faults(seed=3, rate_limit_rate=0.05, rate_limit_burst=4)
    try:
        statuses = [_get(emulator).status_code for _ in range(120)]
    finally:
        emulator.set_faults()
    first = statuses.index(403)
    assert statuses[first : first + 4] == [403] * 4


def test_truncated_and_malformed_bodies_are_not_json(emulator: EmulatorHandle) -> None:
    for setting in ("truncated_rate", "malformed_rate"):
        emulator.set_faults(**{setting: 1.0})
        try:
            resp = _get(emulator)
        finally:
            emulator.set_faults()
        assert resp.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(resp.content)


def test_connection_reset_drops_the_connection_without_an_answer(emulator: EmulatorHandle) -> None:
    emulator.set_faults(connection_reset_rate=1.0)
    try:
        with pytest.raises(httpx.TransportError):
            _get(emulator)
    finally:
        emulator.set_faults()
    assert _get(emulator).status_code == 200  # the server itself is fine


def test_injected_faults_cost_no_quota(emulator: EmulatorHandle) -> None:
    before = emulator.ledger.total_units(emulator.keys[0])
    emulator.set_faults(backend_error_rate=1.0)
    try:
        _get(emulator)
    finally:
        emulator.set_faults()
    assert emulator.ledger.total_units(emulator.keys[0]) == before


async def test_latency_is_non_blocking(emulator: EmulatorHandle) -> None:
    emulator.set_faults(latency_ms=300)
    params = {"part": "id", "id": emulator.world.channel_id(0), "key": emulator.keys[0]}
    try:
        async with httpx.AsyncClient(base_url=emulator.base_url, timeout=10) as http:
            started = time.perf_counter()
            answers = await asyncio.gather(*(http.get("/channels", params=params) for _ in range(10)))
            elapsed = time.perf_counter() - started
    finally:
        emulator.set_faults()
    assert all(a.status_code == 200 for a in answers)
    assert 0.3 <= elapsed < 1.5  # ten 300 ms requests overlapped instead of taking 3 s


def test_admin_faults_route_configures_and_rejects_unknown_settings(emulator: EmulatorHandle) -> None:
    url = f"{emulator.root_url}/_admin/faults"
    assert _HTTP.post(url, json={"backend_error_rate": 1.0}).status_code == 200
    assert _get(emulator).status_code == 500
    state = _HTTP.get(url).json()
    assert state["config"]["backend_error_rate"] == 1.0 and state["injected"]["backend_error"] >= 1
    assert _HTTP.post(url, json={"no_such_fault": 1}).status_code == 400
    assert _HTTP.post(url, json={"backend_error_rate": 2}).status_code == 400
    assert _HTTP.post(url, json={}).status_code == 200
    assert _get(emulator).status_code == 200


def test_fault_sequence_is_deterministic_for_a_seed() -> None:
    config = FaultConfig(seed=9, backend_error_rate=0.2, truncated_rate=0.1, jitter_ms=20)
    first, second = FaultInjector(config), FaultInjector(config)
    a = [first.decide() for _ in range(200)]
    b = [second.decide() for _ in range(200)]
    assert a == b
    assert 20 <= sum(d.fault is not None for d in a) <= 100
    other = FaultInjector(FaultConfig(seed=10, backend_error_rate=0.2, truncated_rate=0.1, jitter_ms=20))
    assert [other.decide() for _ in range(200)] != a
    with pytest.raises(ValueError):
        FaultConfig(backend_error_rate=0.7, unavailable_rate=0.7)
