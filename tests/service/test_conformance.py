"""schemathesis conformance: every status and content type the service answers is declared in
its OpenAPI document, and a method a path does not support is 405 with an ``Allow`` header."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, status_code_conformance

from tests.service.conftest import Service


def test_every_answer_is_declared_in_the_openapi_document(service: Service) -> None:
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    headers = {"Authorization": f"Bearer {service.tokens['admin']}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            case.call_and_validate(
                base_url=service.url,
                headers=headers,
                checks=[not_a_server_error, status_code_conformance, content_type_conformance],
                timeout=120,
            )

        try:
            fuzz()
        except Exception as exc:
            pytest.fail(f"{operation.method.upper()} {operation.path}: {exc}")


@pytest.mark.parametrize("method", ["OPTIONS", "PATCH", "PUT"])
def test_an_unsupported_method_is_405_with_allow(service: Service, method: str) -> None:
    with service.client("admin") as client:
        response = client.request(method, f"/v1/channels/{service.channel_ids[0]}")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_the_unauthenticated_answers_are_declared(service: Service) -> None:
    document = httpx.get(f"{service.url}/openapi.json", timeout=60).json()
    for path, methods in document["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method, operation in methods.items():
            declared = set(operation["responses"])
            assert {"401", "403", "404", "422", "429"} <= declared, f"{method.upper()} {path}: {declared}"
