"""Times kept sane: what Python and PostgreSQL cannot hold is a 400 naming the field, and a
span that ends before the first ask counts as zero, said next to the figure."""

from __future__ import annotations

import httpx
import pytest

from tests.api_helpers import ok

# Year 1 at +03:00 is year 0 in UTC: no Python datetime (nor PostgreSQL date) holds it.
UNHOLDABLE = "0001-01-01T01:00:00+03:00"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/feedback",
            {"text": "hi", "channel": "web", "received_at": UNHOLDABLE},
            "received_at",
        ),
        (
            "/api/increments",
            {
                "service": "api",
                "environment": "production",
                "release_version": "1",
                "finished_at": UNHOLDABLE,
            },
            "finished_at",
        ),
        (
            "/api/incidents",
            {"service": "api", "title": "down", "opened_at": UNHOLDABLE},
            "opened_at",
        ),
    ],
)
async def test_an_unholdable_time_in_a_body_is_a_400_naming_it(
    api: httpx.AsyncClient, path: str, body: dict[str, str], field: str
) -> None:
    answer = await api.post(path, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/feedback", "received_from"),
        ("/api/metrics/lead-time", "from"),
        # A time no calendar holds in UTC is refused as such, even where any earlier time
        # would find the item not yet existing (404).
        ("/api/feedback/FB-1", "as_of"),
    ],
)
async def test_an_unholdable_time_in_a_query_is_a_400_naming_it(
    api: httpx.AsyncClient, path: str, field: str
) -> None:
    ok(await api.post("/api/feedback", json={"text": "hi", "channel": "web"}))
    other = {"measure": "ship"} if path.endswith("lead-time") else {}
    answer = await api.get(path, params={field: UNHOLDABLE, **other})
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field


async def test_a_ship_before_the_first_ask_counts_as_zero_and_is_reported(
    api: httpx.AsyncClient,
) -> None:
    # The customer asked at noon; the deployment that fixes it finished at eleven (the
    # delivery tooling's clock, or the order things were reported in, disagree).
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    ok(await api.post("/api/teams/billing/repositories", json={"repository": "billing-api"}))
    asked = {"text": "Invoice is empty", "channel": "email", "received_at": "2026-03-02T12:00:00Z"}
    item = ok(await api.post("/api/feedback", json=asked))
    deploy = {
        "service": "billing-api",
        "environment": "production",
        "release_version": "1.2.3",
        "started_at": "2026-03-02T10:50:00Z",
        "finished_at": "2026-03-02T11:00:00Z",
        "commits": [
            {
                "sha": "abcdef1234",
                "authored_at": "2026-03-02T10:00:00Z",
                "message": f"fixes {item['key']}",
            }
        ],
    }
    recorded = ok(await api.post("/api/increments", json=deploy))
    assert recorded["shipped_feedback"] == [item["key"]]

    # The span counts as zero, not as minus an hour, and the answer says one was clamped.
    lead = ok(
        await api.get(
            "/api/metrics/lead-time", params={"measure": "ship", "after": recorded["position"]}
        )
    )
    [group] = lead["groups"]
    assert (group["count"], group["mean"], group["clamped"]) == (1, 0.0, 1)
