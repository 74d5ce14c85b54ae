"""Undo over HTTP: one correction event per item, and read models that forget what it
cancelled (issue 14, part 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api_helpers import ok


async def _receive(api: httpx.AsyncClient, customer: str) -> dict[str, Any]:
    received_at = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    body = {"text": "Invoices", "channel": "email", "customer_ref": customer}
    return ok(await api.post("/api/feedback", json={**body, "received_at": received_at}))  # type: ignore[no-any-return]


async def _listed(api: httpx.AsyncClient, key: str, after: int) -> dict[str, Any]:
    page = ok(await api.get("/api/feedback", params={"after": after, "limit": 500}))
    (row,) = [i for i in page["items"] if i["key"] == key]
    return row  # type: ignore[no-any-return]


async def _count(api: httpx.AsyncClient, measure: str, after: int) -> int:
    params: dict[str, str | int] = {"measure": measure, "after": after}
    answer = ok(await api.get("/api/metrics/lead-time", params=params))
    return answer["groups"][0]["count"]  # type: ignore[no-any-return]


async def test_undoing_a_triage_leaves_no_decline_team_or_decision(
    api: httpx.AsyncClient,
) -> None:
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    key = (await _receive(api, "cust-1"))["key"]

    # The team triages the item, then undoes it with the version it saw.
    triaged = ok(await api.post(f"/api/feedback/{key}/triage", json={"team": "billing"}))
    undo = await api.post(
        f"/api/feedback/{key}/undo", headers={"If-Match": f'"{triaged["version"]}"'}
    )
    assert undo.status_code == 201, undo.text
    undone = undo.json()
    assert (undone["status"], undone["version"]) == ("new", 3)

    # Its history shows the correction, not a decline; it has no team again.
    detail = ok(await api.get(f"/api/feedback/{key}"))
    assert [h["event"] for h in detail["history"]] == ["Received", "Triaged", "Corrected"]
    assert detail["history"][-1]["data"]["cancels_from"] == 2
    assert detail["item"]["team_id"] is None
    row = await _listed(api, key, undone["position"])
    assert (row["status"], row["team"], row["triaged_at"]) == ("new", None, None)

    # Neither a triage nor a decision is counted for it.
    assert await _count(api, "decision", undone["position"]) == 0
    assert await _count(api, "triage", undone["position"]) == 0


async def test_undoing_a_defer_clears_the_deferral(api: httpx.AsyncClient) -> None:
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    key = (await _receive(api, "cust-1"))["key"]
    ok(await api.post(f"/api/feedback/{key}/triage", json={"team": "billing"}))
    until = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    deferred = ok(await api.post(f"/api/feedback/{key}/defer", json={"until": until}))

    # Undo with an explicit target: back to before the defer.
    undo = await api.post(
        f"/api/feedback/{key}/undo",
        json={"before_version": deferred["version"]},
        headers={"If-Match": f'"{deferred["version"]}"'},
    )
    undone = ok(undo)
    assert undone["status"] == "triaged"
    row = await _listed(api, key, undone["position"])
    assert (row["status"], row["deferred_until"], row["team"]) == ("triaged", None, "billing")
    # A stale If-Match is refused and changes nothing.
    stale = await api.post(f"/api/feedback/{key}/undo", headers={"If-Match": '"2"'})
    assert stale.status_code == 412


async def test_undoing_a_duplicate_moves_the_demand_back(api: httpx.AsyncClient) -> None:
    original = (await _receive(api, "cust-1"))["key"]
    duplicate = (await _receive(api, "cust-2"))["key"]
    marked = ok(await api.post(f"/api/feedback/{duplicate}/duplicate", json={"of": original}))
    assert (await _listed(api, original, marked["position"]))["demand"] == 2

    # Undoing the marking returns the ask (and its customer) to the duplicate.
    undone = ok(await api.post(f"/api/feedback/{duplicate}/undo"))
    root = await _listed(api, original, undone["position"])
    item = await _listed(api, duplicate, undone["position"])
    assert (root["demand"], root["customers"], root["duplicates"]) == (1, ["cust-1"], 0)
    assert (item["status"], item["demand"], item["customers"]) == ("new", 1, ["cust-2"])
    history = ok(await api.get(f"/api/feedback/{original}"))["history"]
    assert history[-1]["event"] == "DemandReturned"

    # The receipt itself cannot be undone: a 422 that says so.
    refused = await api.post(f"/api/feedback/{original}/undo", json={"before_version": 1})
    assert refused.status_code == 422
    assert "receipt" in refused.json()["detail"]
