"""Teams and outcomes over HTTP: form, members, repositories, outcomes aligned to a team."""

from __future__ import annotations

from uuid import uuid4

import httpx

from tests.api_helpers import ok


async def test_teams_members_repositories_and_outcomes(api: httpx.AsyncClient) -> None:
    # A team is formed; its slug is unique.
    formed = await api.post("/api/teams", json={"slug": "billing", "name": "Billing"})
    assert formed.status_code == 201, formed.text
    assert formed.json()["key"] == "billing"
    taken = await api.post("/api/teams", json={"slug": "billing", "name": "Other"})
    assert taken.status_code == 409
    # Members join by handle and skills; the team owns a repository.
    ok(await api.post("/api/teams/billing/members", json={"handle": "ada", "skills": ["python"]}))
    ok(await api.post("/api/teams/billing/members", json={"handle": "bob"}))
    left = ok(await api.delete("/api/teams/billing/members/bob"))
    owned = ok(await api.post("/api/teams/billing/repositories", json={"repository": "acme/pay"}))
    assert owned["version"] == left["version"] + 1
    # The team reads back by slug and by id, once the read model caught up.
    team = ok(await api.get("/api/teams/billing", params={"after": owned["position"]}))
    assert team["members"] == [
        {"handle": "ada", "skills": ["python"], "joined_at": team["members"][0]["joined_at"]}
    ]
    assert team["repositories"] == ["acme/pay"]
    assert ok(await api.get(f"/api/teams/{formed.json()['id']}"))["slug"] == "billing"
    assert [t["slug"] for t in ok(await api.get("/api/teams"))] == ["billing"]
    # Removing someone who is not a member, or reading an unknown team, are problems.
    assert (await api.delete("/api/teams/billing/members/zoe")).status_code == 422
    assert (await api.get("/api/teams/ghosts")).status_code == 404
    # Another team cannot own the same repository.
    ok(await api.post("/api/teams", json={"slug": "support", "name": "Support"}))
    clash = await api.post("/api/teams/support/repositories", json={"repository": "acme/pay"})
    assert clash.status_code == 409

    # An outcome is defined for the team, which adopts it.
    body = {"statement": "Invoices are never late", "measure": "late invoices", "team": "billing"}
    outcome = await api.post("/api/outcomes", json={**body, "target": "0 a month"})
    assert outcome.status_code == 201, outcome.text
    defined = outcome.json()
    read = ok(
        await api.get(f"/api/outcomes/{defined['id']}", params={"after": defined["position"]})
    )
    assert (read["statement"], read["target"], read["teams"]) == (
        "Invoices are never late",
        "0 a month",
        ["billing"],
    )
    team = ok(await api.get("/api/teams/billing"))
    assert team["outcome_ids"] == [defined["id"]]
    # An unknown team defines nothing; unknown outcomes are 404.
    ghost = await api.post("/api/outcomes", json={**body, "team": "ghosts"})
    assert ghost.status_code == 404
    assert [o["id"] for o in ok(await api.get("/api/outcomes"))] == [defined["id"]]
    assert (await api.get(f"/api/outcomes/{uuid4()}")).status_code == 404
