"""Query strings are strict: a parameter an operation does not take, or a time that is not
RFC 3339 text, is a 400 problem naming it; problem bodies say the kind in `type`, a generic
`title` and the specifics in `detail`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from domain.vocabulary import Channel
from projections.metrics import GROUPINGS, MEASURES
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def refused(served: str, path: str, **params: str) -> dict[str, Any]:
    """The problem a GET of `path` is refused with: a 400 as problem+json."""
    async with httpx.AsyncClient(base_url=served, headers=AUTH) as client:
        answer = await client.get(path, params=params or None)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = answer.json()
    return problem


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/api/feedback?teem=billing", "teem"),
        ("/api/teams?limit=5", "limit"),
        ("/api/metrics/dora?team=billing&fromm=2024-01-01T00:00:00Z", "fromm"),
    ],
)
async def test_an_unknown_query_parameter_is_a_400_naming_it(
    served: str, path: str, named: str
) -> None:
    problem = await refused(served, path)

    assert problem["field"] == named
    assert named in problem["detail"]
    assert problem["type"] == "https://loopline.dev/problems/invalid-request"


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday"])
async def test_a_time_that_is_not_rfc3339_text_is_a_400_naming_it(served: str, value: str) -> None:
    problem = await refused(served, "/api/feedback", received_to=value)

    assert problem["field"] == "received_to"


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/api/metrics/lead-time", "measure"),
        ("/api/feedback/FB-1/similar?limit=0", "limit"),
    ],
)
async def test_a_missing_or_invalid_parameter_is_named_in_field(
    served: str, path: str, named: str
) -> None:
    problem = await refused(served, path)

    assert problem["field"] == named


async def test_known_parameters_in_their_standard_form_are_accepted(served: str) -> None:
    async with httpx.AsyncClient(base_url=served, headers=AUTH) as client:
        answer = await client.get(
            "/api/feedback", params={"received_to": "2024-06-01T00:00:00Z", "limit": "5"}
        )

    assert answer.status_code == 200, answer.text


async def test_auth_problems_say_the_kind_in_type_and_title_and_the_specifics_in_detail(
    served: str,
) -> None:
    async with httpx.AsyncClient(base_url=served) as client:
        missing = await client.get("/api/feedback")
        unknown = await client.get("/api/feedback", headers={"Authorization": "Bearer nope"})

    for answer in (missing, unknown):
        assert answer.status_code == 401
        problem = answer.json()
        assert problem["type"] == "https://loopline.dev/problems/unauthorized"
        assert problem["title"] == "Unauthorized"
    assert "Authorization: Bearer" in missing.json()["detail"]
    assert "unknown or revoked" in unknown.json()["detail"]


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/api/feedback?received_from=0001-01-01T01:00:00%2B03:00", "received_from"),
        ("/api/feedback?received_to=9999-12-31T23:59:59-10:00", "received_to"),
        ("/api/metrics/lead-time?measure=triage&from=0001-01-01T01:00:00%2B03:00", "from"),
        ("/api/metrics/dora?to=9999-12-31T23:59:59-10:00", "to"),
        ("/api/metrics/nps?from=0001-01-01T01:00:00%2B03:00", "from"),
    ],
)
async def test_a_time_outside_the_calendar_in_utc_is_a_400_naming_it(
    served: str, path: str, named: str
) -> None:
    problem = await refused(served, path)

    assert problem["field"] == named


@pytest.mark.parametrize("interval", ["week", "month"])
async def test_a_series_up_to_the_calendars_last_day_ends_with_it(
    served: str, interval: str
) -> None:
    async with httpx.AsyncClient(base_url=served, headers=AUTH) as client:
        answer = await client.get(
            "/api/metrics/dora",
            params={
                "from": "9999-11-01T00:00:00Z",
                "to": "9999-12-31T23:00:00Z",
                "interval": interval,
            },
        )

    assert answer.status_code == 200, answer.text
    assert answer.json()["periods"][-1]["window"]["to"].startswith("9999-12-31T23:00:00")


def _query_enum(document: dict[str, Any], path: str, name: str) -> list[str | None]:
    [parameter] = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
    schema = parameter["schema"]
    for choice in schema.get("oneOf", [schema]):
        if "$ref" in choice:
            choice = document["components"]["schemas"][choice["$ref"].rsplit("/", 1)[1]]
        if "enum" in choice:
            return [v for v in choice["enum"] if v is not None]
    raise AssertionError(f"{path} {name} is not an enum: {schema}")


async def test_metric_parameters_that_take_a_fixed_set_are_enums(served: str) -> None:
    async with httpx.AsyncClient(base_url=served, headers=AUTH) as client:
        document = (await client.get("/schema/openapi.json")).json()
        # A value outside the set is refused, naming the parameter (it filtered nothing).
        wrong_channel = await client.get("/api/metrics/nps", params={"channel": "carrier-pigeon"})
        wrong_grouping = await client.get("/api/metrics/nps", params={"group_by": "week,month"})

    assert _query_enum(document, "/api/metrics/lead-time", "measure") == list(MEASURES)
    assert _query_enum(document, "/api/metrics/lead-time", "group_by") == list(GROUPINGS)
    for path in ("/api/metrics/lead-time", "/api/metrics/nps", "/api/metrics/nps/why"):
        assert _query_enum(document, path, "channel") == list(Channel)
    groupings = _query_enum(document, "/api/metrics/nps", "group_by")
    assert {"team", "week", "team,week", "week,team"} <= set(groupings)
    assert "week,month" not in groupings
    for answer, named in ((wrong_channel, "channel"), (wrong_grouping, "group_by")):
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == named
