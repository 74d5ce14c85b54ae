"""Property-based tests of every API operation from the served OpenAPI schema: no 5xx, and the
document's conformance checks (every status code and content type answered is documented for
the operation, every body matches its schema); every 4xx answered as problem+json."""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_TOKEN
from tests.served import openapi

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EXAMPLES = int(os.environ.get("LOOPLINE_SCHEMATHESIS_EXAMPLES", "50"))
schema = schemathesis.openapi.from_dict(openapi()).exclude(path="/api/events/stream")


FRAMING = frozenset({"transfer-encoding", "content-length", "connection", "host", "te", "upgrade"})


@schemathesis.hook
def filter_headers(ctx: Any, headers: dict[str, Any] | None) -> bool:
    """No generated header that frames the HTTP message itself: uvicorn's parser refuses a
    malformed one (`transfer-encoding: "/H/U<@TQ*]y.fV`) with its own text/plain 400 before
    the API sees the request, so it says nothing of the API's contract."""
    return not headers or not any(str(name).lower() in FRAMING for name in headers)


@schemathesis.check
def problem_details_for_client_errors(ctx: Any, response: Any, case: Any) -> bool | None:
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
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_its_contract(case: Any, served: str) -> None:
    case.call_and_validate(
        base_url=served,
        headers=AUTH,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            problem_details_for_client_errors,
        ],
    )
