"""Shared helpers for the client tests: real recorded bodies, a recording transport, a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tubescope.youtube.client import ClientOptions, YouTubeClient

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT.parent / "shared" / "data" / "real" / "api-fixtures"
SNS = FIXTURES / "sns-sdks-python-youtube"
JOOST = FIXTURES / "joostlek-python-youtube"
API_BASE = "https://yt.test/youtube/v3"
KEY = "AIzaSyTESTKEY-never-log-me-0123456789ab"
KEY_B = "AIzaSyOTHERKEY-never-log-me-987654321x"


def fixture_path(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.is_file():
        pytest.skip(f"real API fixtures not available at {FIXTURES} (../shared/data/real is absent)")
    return path


def fixture_bytes(relative: str) -> bytes:
    return fixture_path(relative).read_bytes()


def fixture_json(relative: str) -> Any:
    return json.loads(fixture_bytes(relative))


def error_body(status: int, reason: str, message: str = "error", *, domain: str = "youtube.quota") -> bytes:
    """A body in the shape Google sends: error.code/message/errors[]."""
    return json.dumps(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        }
    ).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(
        status, content=content, headers={"content-type": "application/json", **(headers or {})}
    )


@dataclass
class FakeTime:
    """A monotonic clock and a sleep that advances it instantly, recording every wait."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Recorder:
    """Wraps a handler; keeps every request so tests can count calls and see which key was used."""

    handler: Callable[[httpx.Request], httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def paths(self) -> list[str]:
        return [r.url.path.removeprefix("/youtube/v3") for r in self.requests]

    @property
    def keys(self) -> list[str | None]:
        return [r.url.params.get("key") for r in self.requests]


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    keys: tuple[str, ...] = (KEY,),
    time: FakeTime | None = None,
    **options: Any,
) -> tuple[YouTubeClient, Recorder, FakeTime]:
    recorder = Recorder(handler)
    fake_time = time or FakeTime()
    opts = ClientOptions(**{"requests_per_second": 1000.0, "backoff_base_seconds": 1.0, **options})
    client = YouTubeClient(
        API_BASE,
        list(keys),
        opts,
        transport=httpx.MockTransport(recorder),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )
    return client, recorder, fake_time
