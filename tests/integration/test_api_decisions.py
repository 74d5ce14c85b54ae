"""Decisions over HTTP: the life cycle, impossible transitions, and the ranked backlog."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from tests.api_helpers import ok


async def propose(api: httpx.AsyncClient, title: str, *feedback: str) -> str:
    body = {"team": "billing", "title": title, "rationale": "why", "feedback": list(feedback)}
    key: str = ok(await api.post("/api/decisions", json=body))["key"]
    return key


async def backlog(api: httpx.AsyncClient, after: int, **params: str) -> list[str]:
    answer = ok(
        await api.get("/api/decisions", params={"team": "billing", "after": after, **params})
    )
    return [d["key"] for d in answer]


async def test_decision_life_cycle_and_backlog_ranking(api: httpx.AsyncClient) -> None:
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    # Two customers ask; both items are triaged into billing.
    items = []
    for customer in ("acme", "globex"):
        body = {"text": "exports time out", "channel": "chat", "customer_ref": customer, "nps": 3}
        key = ok(await api.post("/api/feedback", json=body))["key"]
        ok(await api.post(f"/api/feedback/{key}/triage", json={"team": "billing"}))
        items.append(key)
    fb1, fb2 = items

    # Three proposals; the first answers both items.
    dec1 = await propose(api, "Stream exports", fb1, fb2)
    dec2 = await propose(api, "Faster database")
    dec3 = await propose(api, "Email a link")
    before_accepting = datetime.now(UTC)
    # The backlog lists them with their demand, by number while none is ranked.
    proposed = ok(await api.post(f"/api/decisions/{dec3}/feedback/{fb1}"))
    listed = ok(
        await api.get("/api/decisions", params={"team": "billing", "after": proposed["position"]})
    )
    assert [d["key"] for d in listed] == [dec1, dec2, dec3]
    first = listed[0]
    assert (first["demand"], first["customers"], first["detractors"]) == (2, 2, 2)
    assert first["feedback"] == [fb1, fb2]

    # Accepting plans the triaged items it answers.
    accepted = ok(await api.post(f"/api/decisions/{dec1}/accept"))
    assert accepted["status"] == "accepted"
    item = ok(await api.get(f"/api/feedback/{fb1}", params={"after": accepted["position"]}))
    assert item["item"]["status"] == "planned"
    # Accepting twice is impossible: 422 naming the current state.
    again = await api.post(f"/api/decisions/{dec1}/accept")
    assert again.status_code == 422
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["current_state"] == "accepted"

    # Ranking puts the second decision above the first; a proposal cannot be ranked.
    ok(await api.post(f"/api/decisions/{dec2}/accept"))
    ok(await api.post(f"/api/decisions/{dec1}/rank", json={"position": 2}))
    ranked = ok(await api.post(f"/api/decisions/{dec2}/rank", json={"position": 1}))
    assert ranked["status"] == "accepted"
    assert await backlog(api, ranked["position"]) == [dec2, dec1, dec3]
    unrankable = await api.post(f"/api/decisions/{dec3}/rank", json={"position": 1})
    assert unrankable.status_code == 422
    assert unrankable.json()["current_state"] == "proposed"
    # A rank below 1 is a 400 naming the field.
    zero = await api.post(f"/api/decisions/{dec1}/rank", json={"position": 0})
    assert zero.status_code == 400
    assert "position" in zero.text

    # Work starts on the first; starting again is impossible.
    started = ok(await api.post(f"/api/decisions/{dec1}/start"))
    assert started["status"] == "in_progress"
    restart = await api.post(f"/api/decisions/{dec1}/start")
    assert restart.status_code == 422
    assert restart.json()["current_state"] == "in_progress"

    # A stale If-Match is refused with the current version; the right one goes through.
    stale = await api.post(
        f"/api/decisions/{dec3}/decline", json={"rationale": "no"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    current = stale.json()["current_version"]
    declined = await api.post(
        f"/api/decisions/{dec3}/decline",
        json={"rationale": "too slow for big accounts"},
        headers={"If-Match": f'"{current}"'},
    )
    assert declined.status_code == 201, declined.text
    assert declined.json()["status"] == "declined"
    # The backlog shows open decisions only, unless asked for a status.
    after = declined.json()["position"]
    assert await backlog(api, after) == [dec2, dec1]
    assert await backlog(api, after, status="declined") == [dec3]

    # A new proposal supersedes the second; its feedback moves along.
    dec4 = await propose(api, "Partitioned database")
    superseded = ok(await api.post(f"/api/decisions/{dec2}/supersede", json={"by": dec4}))
    assert superseded["status"] == "superseded"
    assert (await api.post(f"/api/decisions/{dec2}/accept")).status_code == 422

    # Unlinking returns a planned item to triage; linking plans it again.
    unlinked = ok(await api.delete(f"/api/decisions/{dec1}/feedback/{fb2}"))
    item = ok(await api.get(f"/api/feedback/{fb2}", params={"after": unlinked["position"]}))
    assert item["item"]["status"] == "triaged"
    linked = ok(await api.post(f"/api/decisions/{dec1}/feedback/{fb2}"))
    assert linked["status"] == "in_progress"
    item = ok(await api.get(f"/api/feedback/{fb2}", params={"after": linked["position"]}))
    assert item["item"]["status"] == "planned"

    # The detail shows the history, and the decision as it was before acceptance.
    detail = ok(await api.get(f"/api/decisions/{dec1}"))
    events = [h["event"] for h in detail["history"]]
    assert events[:3] == ["Proposed", "Accepted", "Ranked"]
    assert detail["decision"]["status"] == "in_progress"
    then = ok(
        await api.get(f"/api/decisions/{dec1}", params={"as_of": before_accepting.isoformat()})
    )
    assert then["decision"]["status"] == "proposed"
    assert [h["event"] for h in then["history"]] == ["Proposed"]
    # Unknown decisions are 404 problems.
    missing = await api.get("/api/decisions/DEC-999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
