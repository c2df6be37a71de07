"""Real receivers on loopback for the alert tests: an HTTP webhook endpoint and an SMTP server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """One request the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """What the receiver got, and how many of the next requests it should fail with 503;
    ``during`` (when set) is called with each request before it is answered."""

    url: str
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0
    answered: list[int] = field(default_factory=list)
    during: Callable[[Received], None] | None = None


@contextmanager
def webhook_receiver(path: str = "/hooks/tubescope") -> Iterator[WebhookReceiver]:
    """A threaded HTTP server on a free 127.0.0.1 port that records every POST."""
    lock = threading.Lock()
    state: dict[str, WebhookReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver = state["r"]
            got = Received(self.path, dict(self.headers.items()), body)
            if receiver.during is not None:
                receiver.during(got)
            with lock:
                receiver.requests.append(got)
                failing = receiver.fail_next > 0
                if failing:
                    receiver.fail_next -= 1
                code = 503 if failing else 204
                receiver.answered.append(code)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["r"] = WebhookReceiver(f"http://127.0.0.1:{server.server_address[1]}{path}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["r"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Mailbox:
    """What the SMTP server accepted, the logins it saw, and temporary refusals still to give."""

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    refuse_next: int = 0
    refused: int = 0


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        if self.box.refuse_next > 0:
            self.box.refuse_next -= 1
            self.box.refused += 1
            return "451 Requested action aborted: try again later"
        content = envelope.original_content or b""
        self.box.messages.append(message_from_bytes(content))
        self.box.envelopes.append((str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos]))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(*, password: str | None = None) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a free 127.0.0.1 port; with ``password``, it requires a
    login with it (AUTH over plain text, allowed on loopback)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox("127.0.0.1", port)

    def authenticate(
        server: SmtpServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, given = data.login.decode(), data.password.decode()
            box.logins.append((user, given))
            # handled=False: aiosmtpd answers 535 itself (True would leave the client waiting)
            return AuthResult(success=given == password, handled=False)
        return AuthResult(success=False, handled=False)

    kwargs: dict[str, Any] = {}
    if password is not None:
        kwargs = {"authenticator": authenticate, "auth_require_tls": False, "auth_required": True}
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
