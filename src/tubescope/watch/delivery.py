"""Alert delivery: a signed JSON webhook and e-mail over SMTP, each retried with backoff.

The webhook body is signed with HMAC-SHA256 over the exact bytes sent, in the header
``X-Tubescope-Signature-256: sha256=<hex>`` (the form GitHub's webhooks use); a receiver checks
it with :func:`verify`. Retries (tenacity: exponential backoff with jitter) cover connection
failures, 429 and 5xx answers, and SMTP's temporary (4xx) replies; a 4xx webhook answer or a
permanent SMTP refusal is not retried. Errors name the host, never the URL's path or query
(webhook URLs often carry a token), the webhook secret or the SMTP password.

Delivery is at least once (a round whose outcome was not recorded is sent again), so each
carries the alert's stable id for receivers to de-duplicate on: the webhook's
``Idempotency-Key`` header (and ``alert_id`` in its body), the e-mail's ``Message-ID`` and
``X-Tubescope-Alert-Id`` headers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from tubescope.errors import ConfigError, DeliveryError

SIGNATURE_HEADER = "X-Tubescope-Signature-256"
EVENT_HEADER = "X-Tubescope-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ALERT_ID_HEADER = "X-Tubescope-Alert-Id"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a delivery is tried."""

    attempts: int = 5
    wait_initial: float = 1.0
    """Seconds before the first retry; doubled each time (with jitter), up to ``wait_max``."""
    wait_max: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.wait_initial < 0 or self.wait_max < self.wait_initial:
            raise ConfigError("alert retries: at least one attempt, and 0 <= first wait <= longest wait")


@dataclass(frozen=True, slots=True, repr=False)
class WebhookTarget:
    """Where alerts are POSTed, and the secret their signature is made with."""

    url: str
    secret: str
    timeout: float = 10.0

    def __repr__(self) -> str:
        # the URL's path and query often carry a token: only scheme, host and port are shown
        return f"WebhookTarget(where={self.where!r}, timeout={self.timeout!r})"

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("alert webhook: the URL must be http:// or https:// with a host")
        if not self.secret:
            raise ConfigError("alert webhook: set a secret to sign the payloads with")

    @property
    def where(self) -> str:
        """The URL's scheme, host and port: safe to log (the path may hold a token)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


@dataclass(frozen=True, slots=True)
class EmailTarget:
    """An SMTP server and who alerts go to."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.recipients:
            raise ConfigError("alert e-mail: name at least one recipient (alert_email_to)")
        if not self.sender:
            raise ConfigError("alert e-mail: set the sender address (alert_email_from)")


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for ``body``: ``sha256=`` and the HMAC-SHA256 in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant-time compare)."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)


class _Retryable(Exception):
    """A failure worth another try (the webhook's 429/5xx, a temporary SMTP reply)."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, _Retryable | httpx.TransportError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError)


def _retrying(policy: RetryPolicy) -> Retrying:
    return Retrying(
        stop=stop_after_attempt(policy.attempts),
        # doubling from wait_initial, plus up to wait_initial of jitter so retries spread out
        wait=wait_exponential(multiplier=policy.wait_initial, max=policy.wait_max)
        + wait_random(0, policy.wait_initial),
        retry=retry_if_exception(_retryable),
        reraise=False,
    )


def _why(exc: BaseException) -> str:
    if isinstance(exc, RetryError):
        last = exc.last_attempt.exception()
        return _why(last) if last is not None else "gave up"
    if isinstance(exc, _Retryable | DeliveryError):
        return str(exc)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the server answered {exc.smtp_code}"
    return type(exc).__name__


def post_webhook(
    payload: Mapping[str, Any],
    target: WebhookTarget,
    policy: RetryPolicy = RetryPolicy(),
    *,
    transport: httpx.BaseTransport | None = None,
    idempotency_key: str | None = None,
) -> int:
    """POST ``payload`` as signed JSON; returns the attempts it took. :class:`DeliveryError`
    when every attempt failed or the receiver refused it (4xx). ``idempotency_key`` (the
    alert's id) goes in the ``Idempotency-Key`` header of every attempt and redelivery."""
    body = json.dumps(dict(payload), sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, target.secret),
        EVENT_HEADER: "alert",
    }
    if idempotency_key is not None:
        headers[IDEMPOTENCY_HEADER] = idempotency_key
    attempts = 0
    try:
        with httpx.Client(timeout=target.timeout, transport=transport) as client:
            for attempt in _retrying(policy):
                with attempt:
                    attempts += 1
                    answer = client.post(target.url, content=body, headers=headers)
                    if answer.status_code == 429 or answer.status_code >= 500:
                        raise _Retryable(f"answered {answer.status_code}")
                    if answer.status_code >= 400:
                        raise DeliveryError(
                            f"the webhook at {target.where} refused the alert ({answer.status_code})"
                        )
    except DeliveryError:
        raise
    except (RetryError, httpx.HTTPError, OSError) as exc:
        raise DeliveryError(
            f"the webhook at {target.where} failed after {attempts} attempts: {_why(exc)}"
        ) from None
    return attempts


def send_email(
    subject: str,
    text: str,
    target: EmailTarget,
    policy: RetryPolicy = RetryPolicy(),
    *,
    alert_id: str | None = None,
) -> int:
    """Send a plain-text e-mail to the target's recipients; returns the attempts it took.
    :class:`DeliveryError` when every attempt failed or the server refused it for good. With
    ``alert_id``, every copy of the alert's e-mail has the same ``Message-ID`` (and names the id
    in ``X-Tubescope-Alert-Id``), so a mailbox can tell a resent copy from a new alert."""
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = target.sender
    mail["To"] = ", ".join(target.recipients)
    if alert_id is not None:
        domain = parseaddr(target.sender)[1].rpartition("@")[2] or "tubescope"
        mail["Message-ID"] = f"<alert-{alert_id}@{domain}>"
        mail[ALERT_ID_HEADER] = alert_id
    mail.set_content(text)
    attempts = 0
    try:
        for attempt in _retrying(policy):
            with attempt:
                attempts += 1
                with smtplib.SMTP(target.host, target.port, timeout=target.timeout) as smtp:
                    if target.starttls:
                        smtp.starttls(context=ssl.create_default_context())
                    if target.username:
                        smtp.login(target.username, target.password or "")
                    smtp.send_message(mail)
    except (RetryError, smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(
            f"e-mail through {target.host}:{target.port} failed after {attempts} attempts: {_why(exc)}"
        ) from None
    return attempts
