from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from tubescope.emulator.clock import EmulatorClock
from tubescope.emulator.server import EmulatorApp, create_app
from tubescope.emulator.world import World

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
KEY = "test-key-a"


@pytest.fixture(scope="session")
def world() -> World:
    return World(seed=11, n_channels=6)


@pytest.fixture
def clock() -> EmulatorClock:
    return EmulatorClock(NOW)


@pytest.fixture
def app(world: World, clock: EmulatorClock) -> EmulatorApp:
    return create_app(world, clock=clock, keys={KEY: 10_000, "tiny-key": 3})


@pytest.fixture
async def client(app: EmulatorApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator/youtube/v3") as http:
        yield http
