"""The life-cycle vocabulary is the domain's enums, published as such by the API."""

from __future__ import annotations

from typing import Any

import httpx

from domain.vocabulary import OPEN_FEEDBACK, Channel, DecisionStatus, FeedbackStatus, Impact
from tests.api_helpers import ok
from tui.formatting import STATUS_STYLE


async def test_the_api_publishes_the_domains_words(api: httpx.AsyncClient) -> None:
    # The vocabulary endpoint answers the enums, in their order.
    words = ok(await api.get("/api/vocabulary"))
    assert words["feedback_statuses"] == list(FeedbackStatus)
    assert set(words["open_feedback_statuses"]) == OPEN_FEEDBACK
    assert words["decision_statuses"] == list(DecisionStatus)
    assert words["channels"] == list(Channel)
    assert words["impacts"] == list(Impact)

    # The OpenAPI document types statuses, channels and impact as those enums.
    schemas: dict[str, Any] = ok(await api.get("/schema/openapi.json"))["components"]["schemas"]

    def enum_of(schema: str, field: str) -> list[str]:
        prop = schemas[schema]["properties"][field]
        for choice in prop.get("oneOf", [prop]):
            if "$ref" in choice:
                choice = schemas[choice["$ref"].rsplit("/", 1)[1]]
            if "enum" in choice:
                return list(choice["enum"])
        raise AssertionError(f"{schema}.{field} is not an enum: {prop}")

    assert enum_of("FeedbackItem", "status") == list(FeedbackStatus)
    assert enum_of("FeedbackItem", "channel") == list(Channel)
    assert enum_of("BacklogDecision", "status") == list(DecisionStatus)
    assert enum_of("FeedbackCreate", "channel") == list(Channel)
    assert enum_of("Triage", "impact") == list(Impact)

    # The terminal UI colours exactly the statuses the API knows.
    assert set(STATUS_STYLE) == set(words["feedback_statuses"])
