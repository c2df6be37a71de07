"""Edges of the service a hostile client pushes on: failed sign-ins and framing or leaking pages.

- :class:`AuthFailureGuard` limits *failed* authentication per client address: once an address
  has spent its burst of bad tokens it is answered 429 (with ``Retry-After``) before any token is
  checked, until the bucket refills. Good tokens are never slowed by it.
- :class:`SecurityHeaders` adds ``Content-Security-Policy``, ``X-Frame-Options``,
  ``Referrer-Policy`` and ``X-Content-Type-Options`` to every answer (the CSP to HTML pages other
  than the interactive API docs, which load Swagger UI from its CDN).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DASHBOARD_CSP = (
    "default-src 'self'; "
    # The report is one self-contained page: Plotly and its charts are inline scripts, and
    # Plotly (and browser automation reading the page) evaluates strings. Scripts from other
    # origins stay blocked; titles cannot inject script since every page is autoescaped.
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; "
    "font-src 'self' data:; "
    "connect-src 'self'; "
    "object-src 'none'; "
    "base-uri 'none'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)
"""Nothing from other origins, no plugins, no framing by other sites, forms only to this one."""
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
)
_DOCS_PATHS = ("/docs", "/redoc")


class AuthFailureGuard:
    """Failed authentication per client address: ``burst`` failures, then ``rate`` per second.

    Memory is bounded: at most ``max_clients`` addresses are remembered (least recent dropped).
    """

    def __init__(
        self,
        rate: float = 1.0,
        burst: int = 20,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _level(self, client: str, now: float) -> float:
        tokens, updated = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - updated) * self.rate)

    def wait(self, client: str) -> float:
        """0 when ``client`` may try a token now; else the seconds until it may."""
        now = self._clock()
        with self._lock:
            level = self._level(client, now)
        return 0.0 if level >= 1 else (1 - level) / self.rate

    def failed(self, client: str) -> None:
        """Count one failed authentication of ``client``."""
        now = self._clock()
        with self._lock:
            level = self._level(client, now)
            self._buckets[client] = (max(0.0, level - 1), now)
            self._buckets.move_to_end(client)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)

    @staticmethod
    def retry_after_header(wait: float) -> str:
        """``Retry-After`` in whole seconds (at least 1)."""
        return str(max(1, math.ceil(wait)))


class SecurityHeaders:
    """Plain ASGI middleware (no per-request task) adding the security headers to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the security headers to every HTTP response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        with_csp = not path.startswith(_DOCS_PATHS)

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if with_csp and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", DASHBOARD_CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_headers)
