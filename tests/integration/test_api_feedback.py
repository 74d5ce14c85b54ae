"""Feedback over HTTP: receive, read your write, move through the life cycle, errors."""

from __future__ import annotations

import httpx


async def form_team(api: httpx.AsyncClient, slug: str) -> None:
    # Teams have no HTTP endpoint in this test's scope yet: form one through the store.
    response = await api.post("/api/teams", json={"slug": slug, "name": slug.title()})
    assert response.status_code in (200, 201), response.text


async def test_receive_is_idempotent_and_readable_after_the_write(api: httpx.AsyncClient) -> None:
    # A customer's feedback arrives from chat.
    body = {
        "text": "Exporting invoices to CSV times out",
        "channel": "chat",
        "touchpoint": "billing",
        "customer_ref": "acme-corp",
        "nps": 4,
        "nps_reason": "exports keep failing",
        "external_ref": "chat-981",
    }
    created = await api.post("/api/feedback", json=body)
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["key"].startswith("FB-")
    assert first["status"] == "new"
    assert first["version"] == 1
    # The same delivery again answers the same item with 200 and records nothing.
    again = await api.post("/api/feedback", json=body)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["position"] is None
    # Read-your-writes: the list includes it once the projections reached its position.
    listed = await api.get("/api/feedback", params={"after": first["position"], "q": "invoices"})
    assert listed.status_code == 200, listed.text
    assert [i["key"] for i in listed.json()["items"]] == [first["key"]]
    # The item shows its history.
    detail = await api.get(f"/api/feedback/{first['key']}")
    assert detail.status_code == 200
    assert [h["event"] for h in detail.json()["history"]] == ["Received"]


async def test_errors_are_problem_details(api: httpx.AsyncClient, api_server: str) -> None:
    # Unknown fields are rejected, naming the field.
    bad = await api.post("/api/feedback", json={"text": "x", "channel": "chat", "colour": "red"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "colour" in bad.text
    # A domain validation error names its field.
    nps = await api.post("/api/feedback", json={"text": "x", "channel": "chat", "nps": 11})
    assert nps.status_code == 400
    assert nps.json()["field"] == "nps"
    # A missing item is a 404 problem.
    missing = await api.get("/api/feedback/FB-999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    # No token, or a wrong one: 401 problem.
    async with httpx.AsyncClient(base_url=api_server) as anonymous:
        none = await anonymous.get("/api/feedback")
        wrong = await anonymous.get(
            "/api/feedback", headers={"Authorization": "Bearer ll_not-a-token"}
        )
    assert none.status_code == 401
    assert wrong.status_code == 401
    assert none.headers["content-type"].startswith("application/problem+json")
    # An impossible transition is a 422 naming the current state.
    created = (await api.post("/api/feedback", json={"text": "x", "channel": "chat"})).json()
    reopen = await api.post(f"/api/feedback/{created['key']}/reopen", json={"reason": "why"})
    assert reopen.status_code == 422
    assert reopen.json()["current_state"] == "new"
    # A stale If-Match is a 412 with the current version.
    stale = await api.post(
        f"/api/feedback/{created['key']}/decline",
        json={"reason": "no"},
        headers={"If-Match": '"7"'},
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 1
    fresh = await api.post(
        f"/api/feedback/{created['key']}/decline",
        json={"reason": "no"},
        headers={"If-Match": '"1"'},
    )
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["version"] == 2


async def test_the_first_page_says_how_many_items_match(api: httpx.AsyncClient) -> None:
    # Seven asks by email and two by chat; one email ask is declined.
    last = 0
    keys = []
    for n in range(9):
        channel = "chat" if n < 2 else "email"
        created = await api.post("/api/feedback", json={"text": f"ask {n}", "channel": channel})
        assert created.status_code == 201, created.text
        keys.append(created.json()["key"])
        last = created.json()["position"]
    declined = await api.post(f"/api/feedback/{keys[-1]}/decline", json={"reason": "no"})
    last = declined.json()["position"]
    # A first page smaller than the matches says how many there are in all.
    params = {"status": "new", "channel": "email", "limit": 2, "after": last}
    first = (await api.get("/api/feedback", params=params)).json()
    assert (len(first["items"]), first["total"]) == (2, 6)
    # A first page holding every match counts them too.
    chat = (await api.get("/api/feedback", params={"channel": "chat", "after": last})).json()
    assert (len(chat["items"]), chat["total"]) == (2, 2)
    # Later pages leave the total to the first (null), and nothing matches: 0.
    second = await api.get("/api/feedback", params={**params, "cursor": first["next_cursor"]})
    assert second.json()["total"] is None
    none = (await api.get("/api/feedback", params={"q": "nothing-like-this"})).json()
    assert (none["items"], none["total"]) == ([], 0)
    # The OpenAPI document publishes the field.
    document = (await api.get("/schema/openapi.json")).json()
    page = document["components"]["schemas"]["FeedbackPage"]
    assert "total" in page["properties"]
