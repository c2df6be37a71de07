"""The API key travels in every request URL; it must never reach a log line or an error message."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import httpx
import pytest
import structlog

from tests.youtube.conftest import KEY, KEY_B, error_body, fixture_bytes, json_response, make_client
from tubescope.errors import ApiError, TubescopeError
from tubescope.logging import configure_logging, key_fingerprint


def _every_failure(request: httpx.Request) -> httpx.Response:
    """A server that echoes the full request URL (with the key) back inside its error bodies."""
    echoed = f"failed {request.url}"
    video = request.url.params.get("id", "")
    if request.url.params["key"] == KEY_B:
        return json_response(error_body(403, "quotaExceeded", echoed), 403)
    if video == "retry000001":
        return json_response(error_body(500, "backendError", echoed), 500)
    if video == "network0001":
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)
    if video == "skip0000001":
        return json_response(error_body(404, "videoNotFound", echoed), 404)
    if video == "bad00000001":
        return json_response(error_body(400, "badRequest", echoed), 400)
    if video == "simple00001":
        return json_response({"error": echoed}, 502)
    return json_response(fixture_bytes("sns-sdks-python-youtube/error_response.json"), 400)


@pytest.fixture
def reset_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()


async def test_the_key_never_appears_in_logs_or_exceptions(
    reset_structlog: None, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("DEBUG", json=True)
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    structlog.contextvars.bind_contextvars(run_id="run-123")
    errors: list[BaseException] = []
    client, recorder, _ = make_client(_every_failure, max_retries=1)
    async with client:
        for video in (
            "retry000001",
            "network0001",
            "skip0000001",
            "bad00000001",
            "simple00001",
            "keyinvalid1",
        ):
            with pytest.raises(ApiError) as caught:
                await client.videos_list([video])
            errors.append(caught.value)
    quota_client, _, _ = make_client(_every_failure, keys=(KEY_B,))
    async with quota_client:
        with pytest.raises(ApiError) as caught:
            await quota_client.videos_list(["anything001"])
        errors.append(caught.value)
    structlog.contextvars.clear_contextvars()

    assert recorder.requests and all(r.url.params["key"] == KEY for r in recorder.requests)
    logs = capsys.readouterr().err + caplog.text
    assert "run-123" in logs  # the run id reaches the client's log lines
    assert key_fingerprint(KEY) in logs  # keys are named, by fingerprint
    assert KEY not in logs and KEY_B not in logs
    assert len(errors) == 7 and all(isinstance(e, TubescopeError) for e in errors)
    for error in errors:
        text = "".join(traceback.format_exception(error)) + repr(error) + str(error.args)
        assert KEY not in text and KEY_B not in text
    assert repr(client).count("key-") == 1 and KEY not in repr(client)


async def test_httpx_request_log_lines_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    client, _, _ = make_client(lambda _r: json_response({"kind": "youtube#videoListResponse", "items": []}))
    async with client:
        await client.videos_list(["Ks-_Mh1QhMc"])
    assert "HTTP Request" in caplog.text and "key=[REDACTED]" in caplog.text
    assert KEY not in caplog.text
