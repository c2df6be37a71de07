"""One function decides every response; this table is its specification, over real error bodies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.youtube.conftest import KEY, error_body, fixture_bytes
from tubescope.youtube.classify import Action, FatalKind, classify_response, parse_retry_after


@pytest.mark.parametrize(
    ("fixture", "status", "action", "reason", "fatal_kind"),
    [
        (
            "sns-sdks-python-youtube/error_response.json",
            400,
            Action.FATAL,
            "keyInvalid",
            FatalKind.KEY_INVALID,
        ),
        (
            "joostlek-python-youtube/youtube_not_activated.json",
            403,
            Action.FATAL,
            "accessNotConfigured",
            FatalKind.ACCESS_NOT_CONFIGURED,
        ),
        # A 403 PERMISSION_DENIED with a reason outside the documented table: the resource is
        # closed to us, so it is skipped and recorded rather than retried.
        (
            "sns-sdks-python-youtube/apidata/error_permission_resp.json",
            403,
            Action.SKIP,
            "SERVICE_UNAVAILABLE",
            None,
        ),
        # The non-standard {"error": "message"} shape carries no reason: treated as a flaky hop.
        (
            "sns-sdks-python-youtube/error_response_simple.json",
            500,
            Action.RETRY,
            "unrecognisedErrorBody",
            None,
        ),
        (
            "sns-sdks-python-youtube/error_response_simple.json",
            403,
            Action.RETRY,
            "unrecognisedErrorBody",
            None,
        ),
        # ... but on a 400 the request itself is wrong: failing at once, not retrying it.
        (
            "sns-sdks-python-youtube/error_response_simple.json",
            400,
            Action.FATAL,
            "badRequest",
            FatalKind.BAD_REQUEST,
        ),
    ],
)
def test_real_error_bodies(
    fixture: str, status: int, action: Action, reason: str, fatal_kind: FatalKind | None
) -> None:
    verdict = classify_response(status, fixture_bytes(fixture))
    assert (verdict.action, verdict.reason, verdict.fatal_kind) == (action, reason, fatal_kind)
    assert verdict.status == status


@pytest.mark.parametrize(
    ("status", "reason", "message", "action"),
    [
        (
            403,
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your quota.",
            Action.STOP_FOR_QUOTA,
        ),
        (403, "dailyLimitExceeded", "Daily Limit Exceeded", Action.STOP_FOR_QUOTA),
        (
            429,
            "RATE_LIMIT_EXCEEDED",
            "Quota exceeded for quota metric 'Queries' per day",
            Action.STOP_FOR_QUOTA,
        ),
        (429, "RATE_LIMIT_EXCEEDED", "Too many requests per minute", Action.RETRY),
        (403, "rateLimitExceeded", "Rate Limit Exceeded", Action.RETRY),
        (403, "userRateLimitExceeded", "User Rate Limit Exceeded", Action.RETRY),
        (500, "backendError", "Backend Error", Action.RETRY),
        (500, "internalError", "Internal error encountered.", Action.RETRY),
        (503, "backendError", "The service is currently unavailable.", Action.RETRY),
        (
            404,
            "videoNotFound",
            "The video identified by the videoId parameter could not be found.",
            Action.SKIP,
        ),
        (404, "channelNotFound", "Channel not found.", Action.SKIP),
        (
            404,
            "playlistNotFound",
            "The playlist identified with the playlistId parameter cannot be found.",
            Action.SKIP,
        ),
        (403, "commentsDisabled", "The video has disabled comments.", Action.SKIP),
        (403, "forbidden", "Forbidden", Action.SKIP),
        (403, "playlistItemsNotAccessible", "Not allowed to retrieve the playlist items.", Action.SKIP),
        (400, "keyInvalid", "API key not valid. Please pass a valid API key.", Action.FATAL),
        (403, "accessNotConfigured", "Access Not Configured.", Action.FATAL),
        (400, "badRequest", "Bad Request", Action.FATAL),
        (400, "invalidParameter", "Invalid value for part", Action.FATAL),
        (418, "somethingNew", "an unknown reason on an unknown status", Action.FATAL),
        (502, "somethingNew", "an unknown reason on a gateway error", Action.RETRY),
    ],
)
def test_documented_reasons(status: int, reason: str, message: str, action: Action) -> None:
    verdict = classify_response(status, error_body(status, reason, message))
    assert verdict.action is action
    assert verdict.reason == reason
    assert verdict.message == message


def test_details_reason_counts_when_errors_list_is_missing() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
        }
    }
    verdict = classify_response(400, json.dumps(body).encode())
    assert (verdict.action, verdict.fatal_kind, verdict.reason) == (
        Action.FATAL,
        FatalKind.KEY_INVALID,
        "API_KEY_INVALID",
    )


def test_the_most_severe_reason_wins_when_errors_and_details_disagree() -> None:
    body = json.loads(error_body(429, "rateLimitExceeded", "slow down"))
    body["error"]["details"] = [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
    ]
    verdict = classify_response(429, json.dumps(body).encode())
    assert verdict.action is Action.FATAL and verdict.fatal_kind is FatalKind.KEY_INVALID


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b'{"kind": "youtube#videoListResponse", "items": [{"id": "abc'),  # cut off mid-body
        (200, b""),
        (200, b"<html>upstream connect error</html>"),
        (200, b'["not", "an", "object"]'),
        (500, b'{"error": {"code": 500, "message": "Back'),
        (502, b"<html><body>502 Bad Gateway</body></html>"),
        (503, b""),
    ],
)
def test_truncated_or_foreign_bodies_are_retried(status: int, body: bytes) -> None:
    assert classify_response(status, body).action is Action.RETRY


def test_a_404_without_api_json_means_no_such_endpoint() -> None:
    verdict = classify_response(404, b"<html>Not Found</html>")
    assert (verdict.action, verdict.reason) == (Action.FATAL, "endpointNotFound")


def test_success_returns_the_decoded_body() -> None:
    verdict = classify_response(200, fixture_bytes("joostlek-python-youtube/video_response_1.json"))
    assert verdict.action is Action.OK
    assert verdict.body["kind"] == "youtube#videoListResponse"


def test_retry_after_is_read_from_headers() -> None:
    verdict = classify_response(503, b"", {"retry-after": "7"})
    assert verdict.retry_after_seconds == 7.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") == 0.0


def test_messages_echoing_the_request_url_lose_the_key() -> None:
    message = f"Bad request for https://www.googleapis.com/youtube/v3/videos?part=id&key={KEY}"
    verdict = classify_response(400, error_body(400, "badRequest", message))
    assert KEY not in verdict.message
    assert "key=[REDACTED]" in verdict.message


@given(
    status=st.integers(100, 599),
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
            ),
            max_leaves=12,
        ).map(lambda value: json.dumps({"error": value}).encode()),
    ),
)
def test_any_response_gets_a_decision_and_never_an_exception(status: int, body: bytes) -> None:
    verdict = classify_response(status, body)
    assert verdict.status == status
    assert (verdict.action is Action.OK) == (200 <= status < 300 and verdict.body is not None)
    if verdict.action is Action.FATAL:
        assert verdict.fatal_kind is not None
