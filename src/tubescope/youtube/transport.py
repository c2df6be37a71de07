"""The HTTP GET under the client: aiohttp by default, httpx where a transport is handed in.

Every API call is one GET whose answer is read whole, so the client needs only a status, a body
and two headers. aiohttp parses HTTP in C and keeps a lean connection pool: a 50-video
``videos.list`` answer costs it about a fifth of the CPU httpx (with httpcore and h11 in pure
Python) spends on the same request, which is most of the collector's CPU per request
(benchmarks/collect.py). An injected :class:`httpx.AsyncBaseTransport` (the tests' recording and
fault-injecting transports, an in-process ASGI emulator) keeps the httpx path, with the same
errors mapped the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import aiohttp
from yarl import URL

if TYPE_CHECKING:
    import httpx

DEFAULT_HEADERS: Mapping[str, str] = {"Accept": "application/json", "User-Agent": "tubescope"}
KEEPALIVE_SECONDS = 5.0
"""How long an idle connection is kept for reuse (httpx's default, which the client used before)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer, read whole."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    dates: list[str]
    """Every ``Date`` header sent (a proxy may add its own)."""


class TransportFailure(Exception):
    """No HTTP answer came back (refused, reset, timed out, malformed).

    ``unsent`` is true when the request never reached the server (the connection could not be
    made), so no quota was spent on it.
    """

    def __init__(self, kind: str, message: str, *, unsent: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.unsent = unsent


class Sender(Protocol):
    """Sends a GET and reads the whole answer; raises :class:`TransportFailure` without one."""

    async def get(self, url: str) -> Reply:
        """GET ``url`` (already percent-encoded) without following redirects."""
        ...

    async def aclose(self) -> None:
        """Close the connections."""
        ...


def make_sender(
    *, max_connections: int, timeout_seconds: float, transport: httpx.AsyncBaseTransport | None
) -> Sender:
    """aiohttp's sender, or httpx's over ``transport`` when one is given."""
    if transport is not None:
        return HttpxSender(transport, max_connections=max_connections, timeout_seconds=timeout_seconds)
    return AiohttpSender(max_connections=max_connections, timeout_seconds=timeout_seconds)


class AiohttpSender:
    """GETs through one aiohttp session, opened at the first request (it needs a running loop)."""

    def __init__(self, *, max_connections: int, timeout_seconds: float) -> None:
        self._max_connections = max_connections
        self._timeout_seconds = timeout_seconds
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            seconds = self._timeout_seconds
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._max_connections, keepalive_timeout=KEEPALIVE_SECONDS
                ),
                # Per phase, as httpx.Timeout(seconds) was: waiting for a connection, connecting,
                # and each read; a slow but steady answer is not cut off.
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=seconds, sock_connect=seconds, sock_read=seconds
                ),
                headers=dict(DEFAULT_HEADERS),
                trust_env=True,  # HTTP(S)_PROXY and NO_PROXY are honoured, as httpx did
            )
        return self._session

    async def get(self, url: str) -> Reply:
        """GET ``url``; the whole body is read before the connection goes back to the pool."""
        session = self._open()
        try:
            # encoded=True: the query is already percent-encoded; yarl would otherwise parse and
            # re-quote the long 50-id URL.
            async with session.get(URL(url, encoded=True), allow_redirects=False) as response:
                body = await response.read()
                return Reply(response.status, body, response.headers, response.headers.getall("Date", []))
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise TransportFailure(type(exc).__name__, str(exc), unsent=True) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportFailure(type(exc).__name__, str(exc) or type(exc).__name__, unsent=False) from None

    async def aclose(self) -> None:
        """Close the session (and its connections) if one was opened."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxSender:
    """GETs through an :class:`httpx.AsyncClient` over a given transport."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport, *, max_connections: int, timeout_seconds: float
    ) -> None:
        import httpx

        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers=dict(DEFAULT_HEADERS),
        )

    async def get(self, url: str) -> Reply:
        """GET ``url`` and read the whole answer."""
        import httpx

        try:
            response = await self._http.get(url)
        except httpx.TransportError as exc:
            unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            raise TransportFailure(type(exc).__name__, str(exc), unsent=unsent) from None
        return Reply(
            response.status_code, response.content, response.headers, response.headers.get_list("date")
        )

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._http.aclose()
