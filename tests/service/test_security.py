"""The service's edges: failed sign-ins are rate-limited per address, /metrics and /docs can be
closed, and every answer carries the security headers (CSP, frame blocking, referrer policy)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.service.conftest import Service, serve
from tubescope.config import load_settings
from tubescope.jobs.tokens import token_store_for
from tubescope.service.app import create_app
from tubescope.service.security import AuthFailureGuard
from tubescope.service.state import ServiceOptions


@dataclass
class Closed:
    url: str
    tokens: dict[str, str]


@pytest.fixture
def closed(service: Service) -> Iterator[Closed]:
    """A second service over the same warehouse with /metrics and /docs closed and 5 failures allowed."""
    store = token_store_for(service.db_path)
    options = ServiceOptions(
        db_path=service.db_path,
        token_file=store.path,
        public_metrics=False,
        public_docs=False,
        auth_failures_per_second=0.01,
        auth_failure_burst=5,
    )
    app = create_app(load_settings(db_path=service.db_path), options)
    url, server, thread = serve(app)
    try:
        yield Closed(url, service.tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_failed_authentication_is_rate_limited_per_address_before_tokens_are_checked(
    closed: Closed,
) -> None:
    bad = {"Authorization": "Bearer ts_guessing-0000000000000000"}
    good = {"Authorization": f"Bearer {closed.tokens['read']}"}
    with httpx.Client(base_url=closed.url, timeout=60) as client:
        assert client.get("/v1/channels", headers=good).status_code == 200  # good tokens never count
        statuses = [client.get("/v1/channels", headers=bad).status_code for _ in range(12)]
        refused = client.get("/v1/channels", headers=bad)
        login = client.post("/login", data={"token": "guess", "next": "/"})
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "failed authentications" in refused.json()["error"]["message"]
    assert login.status_code == 429  # the dashboard's sign-in form counts against the same address


def test_the_401_message_names_the_header_and_is_not_redacted(service: Service) -> None:
    with service.client(None) as client:
        missing = client.get("/v1/channels")
    message = missing.json()["error"]["message"]
    assert missing.status_code == 401 and "REDACTED" not in message and "Authorization: Bearer" in message


def test_metrics_and_docs_can_be_closed(closed: Closed, service: Service) -> None:
    admin = {"Authorization": f"Bearer {closed.tokens['admin']}"}
    read = {"Authorization": f"Bearer {closed.tokens['read']}"}
    with httpx.Client(base_url=closed.url, timeout=60) as client:
        assert client.get("/metrics", headers=read).status_code == 403
        assert "tubescope_http_request_duration_seconds" in client.get("/metrics", headers=admin).text
        assert client.get("/openapi.json", headers=read).json()["info"]["title"] == "tubescope"
        assert client.get("/docs", headers=read).status_code == 200
        assert client.get("/health").status_code == 200  # probes stay open
    with httpx.Client(base_url=closed.url, timeout=60) as anonymous:
        assert anonymous.get("/openapi.json").status_code == 401
        assert anonymous.get("/docs").status_code in {401, 429}
    with service.client(None) as open_service:  # the default stays open, as before
        assert open_service.get("/metrics").status_code == 200
        assert open_service.get("/openapi.json").status_code == 200


def test_dashboard_and_api_answers_carry_the_security_headers(service: Service) -> None:
    with service.client(None) as client:
        login = client.get("/login")
        api = client.get("/health")
        docs = client.get("/docs")
    csp = login.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
    for response in (login, api, docs):
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in docs.headers  # Swagger UI loads from its CDN


def test_the_guard_forgets_the_least_recent_addresses() -> None:
    now = [0.0]
    guard = AuthFailureGuard(rate=1.0, burst=2, max_clients=3, clock=lambda: now[0])
    for address in ("a", "a", "b", "c", "d"):
        guard.failed(address)
    assert guard.wait("a") == 0.0  # forgotten: at most three addresses are remembered
    guard.failed("d")
    assert guard.wait("d") == pytest.approx(1.0)
    now[0] = 1.0
    assert guard.wait("d") == 0.0
