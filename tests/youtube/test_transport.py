"""The client's default HTTP path (aiohttp) against the emulator over loopback, and a closed port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import orjson
import pytest

from tubescope.errors import TransientApiError
from tubescope.testing import EmulatorHandle, running_emulator
from tubescope.youtube.client import ClientOptions, YouTubeClient
from tubescope.youtube.quota import Method
from tubescope.youtube.transport import AiohttpSender, TransportFailure


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(seed=5, n_channels=1) as handle:
        yield handle


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _channel_url(emulator: EmulatorHandle, key: str) -> str:
    channel_id = emulator.world.channel_ids()[0]
    return f"{emulator.base_url}/channels?part=snippet&id={channel_id}&key={key}"


async def test_an_answer_comes_back_whole_with_its_date(emulator: EmulatorHandle) -> None:
    sender = AiohttpSender(max_connections=2, timeout_seconds=10)
    try:
        reply = await sender.get(_channel_url(emulator, emulator.keys[0]))
    finally:
        await sender.aclose()
    assert reply.status == 200
    assert orjson.loads(reply.body)["items"][0]["id"] == emulator.world.channel_ids()[0]
    assert len(reply.dates) == 1 and reply.dates[0].endswith("GMT")
    assert reply.headers.get("content-type", "").startswith("application/json")


async def test_an_error_status_is_an_answer_not_a_failure(emulator: EmulatorHandle) -> None:
    sender = AiohttpSender(max_connections=2, timeout_seconds=10)
    try:
        reply = await sender.get(_channel_url(emulator, "not-a-key"))
    finally:
        await sender.aclose()
    assert reply.status in (400, 403)
    assert "error" in orjson.loads(reply.body)


async def test_a_refused_connection_never_reached_the_server() -> None:
    sender = AiohttpSender(max_connections=2, timeout_seconds=10)
    try:
        with pytest.raises(TransportFailure) as failure:
            await sender.get(f"{_closed_port_url()}/videos?id=x&key=k")
    finally:
        await sender.aclose()
    assert failure.value.unsent is True


async def test_a_dropped_connection_may_have_been_billed(emulator: EmulatorHandle) -> None:
    emulator.set_faults(connection_reset_rate=1.0)
    sender = AiohttpSender(max_connections=2, timeout_seconds=10)
    try:
        with pytest.raises(TransportFailure) as failure:
            await sender.get(_channel_url(emulator, emulator.keys[0]))
    finally:
        await sender.aclose()
        emulator.set_faults()
    assert failure.value.unsent is False


async def test_the_client_refunds_calls_that_could_not_connect() -> None:
    options = ClientOptions(max_retries=1, backoff_base_seconds=0.0, backoff_max_seconds=0.0)
    async with YouTubeClient(
        _closed_port_url(), ["AIzaTestKey000000000000000000000000000"], options
    ) as client:
        with pytest.raises(TransientApiError, match="failed 2 times"):
            await client.get_json(Method.VIDEOS_LIST, "/videos", {"part": "id", "id": "abcdefghijk"})
        assert client.requests_sent == 2
        assert client.quota_spent == 0
