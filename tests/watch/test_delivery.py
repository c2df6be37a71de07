"""Alert delivery to real receivers on loopback: a signed webhook and SMTP, retried with backoff."""

from __future__ import annotations

import json

import pytest

from tests.watch.receivers import smtp_server, webhook_receiver
from tubescope.errors import ConfigError, DeliveryError
from tubescope.watch.delivery import (
    ALERT_ID_HEADER,
    EVENT_HEADER,
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    EmailTarget,
    RetryPolicy,
    WebhookTarget,
    post_webhook,
    send_email,
    sign,
    verify,
)

FAST = RetryPolicy(attempts=4, wait_initial=0.01, wait_max=0.05)


def test_signature_round_trip_and_tampering() -> None:
    body = b'{"alert_id":"a1","value":12.5}'
    header = sign(body, "s3cret")
    assert header.startswith("sha256=") and verify(body, "s3cret", header)
    assert not verify(body + b" ", "s3cret", header)
    assert not verify(body, "another", header)
    assert not verify(body, "s3cret", None)


def test_webhook_is_signed_and_retried_until_the_receiver_takes_it() -> None:
    with webhook_receiver() as receiver:
        receiver.fail_next = 2
        target = WebhookTarget(receiver.url, "hook-secret-1")
        payload = {"alert_id": "a1", "rule": "breakouts", "value": 7.25, "message": "Breakout: 7.2x"}
        attempts = post_webhook(payload, target, FAST, idempotency_key="a1")
    assert attempts == 3 and receiver.answered == [503, 503, 204]
    # every attempt names the alert, so a receiver can drop a copy it already took
    assert [r.headers[IDEMPOTENCY_HEADER] for r in receiver.requests] == ["a1"] * 3
    bodies = {r.body for r in receiver.requests}
    assert len(bodies) == 1  # every retry sends the same signed bytes
    last = receiver.requests[-1]
    assert last.path == "/hooks/tubescope"
    assert last.headers["Content-Type"] == "application/json" and last.headers[EVENT_HEADER] == "alert"
    assert verify(last.body, "hook-secret-1", last.headers[SIGNATURE_HEADER])
    assert json.loads(last.body) == payload


def test_a_webhook_that_keeps_failing_is_a_typed_error_without_secrets() -> None:
    with webhook_receiver("/hooks/T0KEN-in-path") as receiver:
        receiver.fail_next = 100
        target = WebhookTarget(receiver.url + "?token=QUERYTOKEN", "hook-secret-2")
        with pytest.raises(DeliveryError) as raised:
            post_webhook({"alert_id": "a2"}, target, FAST)
    assert len(receiver.requests) == FAST.attempts
    text = str(raised.value)
    assert "failed after 4 attempts" in text and "503" in text
    for secret in ("hook-secret-2", "T0KEN-in-path", "QUERYTOKEN"):
        assert secret not in text and secret not in repr(target)


def test_an_unreachable_webhook_is_retried_then_reported() -> None:
    with webhook_receiver() as receiver:
        url = receiver.url
    with pytest.raises(DeliveryError, match="failed after 2 attempts: ConnectError"):
        post_webhook({"alert_id": "a3"}, WebhookTarget(url, "x"), RetryPolicy(2, 0.01, 0.02))


def test_webhook_settings_are_checked() -> None:
    with pytest.raises(ConfigError):
        WebhookTarget("ftp://example.com/hook", "s")
    with pytest.raises(ConfigError):
        WebhookTarget("https://example.com/hook", "")
    with pytest.raises(ConfigError):
        RetryPolicy(attempts=0)


def test_email_reaches_a_real_smtp_server_after_a_temporary_refusal() -> None:
    with smtp_server(password="smtp-pass-9") as box:
        box.refuse_next = 1
        target = EmailTarget(
            host=box.host,
            port=box.port,
            sender="alerts@tubescope.test",
            recipients=("team@example.test", "lead@example.test"),
            username="alerts",
            password="smtp-pass-9",
            starttls=False,
        )
        text = "Breakout: 9.1x the median. /channels/UC1"
        attempts = send_email("[tubescope] breakout: b1", text, target, FAST, alert_id="a7f3")
        again = send_email("[tubescope] breakout: b1", text, target, FAST, alert_id="a7f3")
    assert attempts == 2 and again == 1 and box.refused == 1
    assert box.logins[-1] == ("alerts", "smtp-pass-9")
    mail, resent = box.messages
    # a copy sent again (a redelivery after a kill) is recognisably the same alert
    assert mail["Message-ID"] == resent["Message-ID"] == "<alert-a7f3@tubescope.test>"
    assert mail[ALERT_ID_HEADER] == "a7f3"
    assert mail["Subject"] == "[tubescope] breakout: b1"
    assert mail["From"] == "alerts@tubescope.test"
    assert text in mail.get_payload()
    assert box.envelopes == [("alerts@tubescope.test", ["team@example.test", "lead@example.test"])] * 2
    assert "smtp-pass-9" not in repr(target)


def test_a_refused_smtp_login_is_not_retried_and_names_no_password() -> None:
    with smtp_server(password="right-one") as box:
        target = EmailTarget(
            box.host,
            box.port,
            "a@t.test",
            ("b@t.test",),
            username="u",
            password="wrong-pw-77",
            starttls=False,
        )
        with pytest.raises(DeliveryError) as raised:
            send_email("s", "t", target, FAST)
    # 535 is permanent: one connection (smtplib tries PLAIN, then LOGIN, within it)
    assert "failed after 1 attempts" in str(raised.value)
    assert {login for login in box.logins} == {("u", "wrong-pw-77")} and len(box.logins) <= 2
    assert "535" in str(raised.value) and "wrong-pw-77" not in str(raised.value)
    assert not box.messages
