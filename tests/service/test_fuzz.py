"""The OpenAPI schema fuzzed with schemathesis: whatever it sends, the service never answers 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.service.conftest import Service


def _operations(service: Service) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def test_no_input_makes_the_service_fail(service: Service) -> None:
    operations = _operations(service)
    assert len(operations) >= 10, "the schema lost its operations"
    headers = {"Authorization": f"Bearer {service.tokens['admin']}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            case.call_and_validate(
                base_url=service.url, headers=headers, checks=[not_a_server_error], timeout=120
            )

        try:
            fuzz()
        except Exception as exc:  # name the operation that failed; hypothesis already shrank the case
            pytest.fail(f"{operation.method.upper()} {operation.path}: {exc}")
