"""Schemathesis over every API operation with negative cases as well as valid ones: no 5xx,
every 4xx a problem+json, every status, content type and body as the document says. Bounded
in CI; LOOPLINE_RELIABILITY_LONG=1 runs 500 examples per
operation (and per mode)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_TOKEN
from tests.reliability.harness import scaled
from tests.served import openapi

pytestmark = pytest.mark.reliability

EXAMPLES = scaled(3, 500)
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

schema = schemathesis.openapi.from_dict(openapi()).exclude(path="/api/events/stream")
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schemathesis.check
def problem_json_for_client_errors(ctx: Any, response: Any, case: Any) -> bool | None:
    if 400 <= response.status_code < 500:
        content_type = response.headers.get("content-type", [""])
        value = content_type[0] if isinstance(content_type, list) else content_type
        assert value.startswith("application/problem+json"), (
            f"{response.status_code} answered as {value!r}, not problem+json"
        )
    return None


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_fails_on_hostile_input(case: Any, served: str) -> None:
    case.call_and_validate(
        base_url=served,
        headers=AUTH,
        checks=[
            not_a_server_error,
            problem_json_for_client_errors,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
