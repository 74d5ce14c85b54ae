"""One definition of demand: every ask (an item and the duplicates merged into it), the
distinct customers among them, and the detractors among those; decisions and outcome
scorecards count the same way."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api_helpers import ok


async def test_a_decision_counts_the_duplicates_merged_into_its_items(
    api: httpx.AsyncClient,
) -> None:
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    outcome = ok(
        await api.post("/api/outcomes", json={"statement": "s", "measure": "m", "team": "billing"})
    )

    async def ask(customer: str, nps: int | None) -> str:
        body: dict[str, Any] = {"text": "Invoices are unreadable", "channel": "survey"}
        body |= {"customer_ref": customer, "nps": nps}
        key: str = ok(await api.post("/api/feedback", json=body))["key"]
        return key

    # FB-1 (acme, a detractor) and two duplicates merged into it: initech (a detractor)
    # and acme again.
    first = await ask("acme", 3)
    ok(
        await api.post(
            f"/api/feedback/{first}/triage", json={"team": "billing", "outcome": outcome["id"]}
        )
    )
    for customer, nps in (("initech", 5), ("acme", None)):
        duplicate = await ask(customer, nps)
        ok(await api.post(f"/api/feedback/{duplicate}/duplicate", json={"of": first}))
    decision = ok(
        await api.post(
            "/api/decisions",
            json={
                "team": "billing",
                "title": "Readable invoices",
                "rationale": "r",
                "feedback": [first],
            },
        )
    )
    after = {"after": decision["position"]}

    # The backlog: one item, three asks, two customers, both detractors.
    [listed] = ok(await api.get("/api/decisions", params=after))
    figures = (listed["items"], listed["demand"], listed["customers"], listed["detractors"])
    assert figures == (1, 3, 2, 2)
    # The single decision shows the same demand.
    detail = ok(await api.get(f"/api/decisions/{decision['key']}", params=after))
    assert detail["demand"] == {"items": 1, "demand": 3, "customers": 2, "detractors": 2}
    # The outcome's scorecard uses the same words with the same meaning.
    [card] = ok(await api.get("/api/metrics/outcomes", params=after))
    assert (card["items"], card["demand"], card["customers"], card["detractors"]) == (1, 3, 2, 2)
    # The item itself: its demand is its asks.
    item = ok(await api.get("/api/feedback", params={**after, "q": "invoices"}))["items"]
    assert [(i["key"], i["demand"]) for i in item if i["status"] != "duplicate"] == [(first, 3)]
