"""The whole loop over HTTP: a customer asks, a team decides, ships, and the metric counts it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest


async def test_feedback_ships_through_a_decision_and_the_lead_time_counts_it(
    api: httpx.AsyncClient,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    asked = now - timedelta(days=3)
    # The billing team exists and owns the billing API.
    team = await api.post("/api/teams", json={"slug": "billing", "name": "Billing"})
    assert team.status_code == 201, team.text
    owned = await api.post("/api/teams/billing/repositories", json={"repository": "billing-api"})
    assert owned.status_code == 201, owned.text

    # A customer tells us, three days ago, that invoice exports time out.
    received = await api.post(
        "/api/feedback",
        json={
            "text": "Exporting invoices to CSV times out",
            "channel": "chat",
            "touchpoint": "billing",
            "customer_ref": "acme-corp",
            "received_at": asked.isoformat(),
        },
    )
    assert received.status_code == 201, received.text
    fb = received.json()["key"]

    # It is triaged into the billing team.
    triaged = await api.post(f"/api/feedback/{fb}/triage", json={"team": "billing"})
    assert triaged.status_code == 201, triaged.text

    # Product proposes a decision that answers it, and accepts it: the item is planned.
    proposed = await api.post(
        "/api/decisions",
        json={
            "team": "billing",
            "title": "Stream CSV exports",
            "rationale": "Exports of large accounts time out",
            "options": ["stream the export", "email a link"],
            "feedback": [fb],
        },
    )
    assert proposed.status_code == 201, proposed.text
    dec = proposed.json()["key"]
    assert dec.startswith("DEC-")
    accepted = await api.post(f"/api/decisions/{dec}/accept")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["status"] == "accepted"
    planned = await api.get(f"/api/feedback/{fb}", params={"after": accepted.json()["position"]})
    assert planned.json()["item"]["status"] == "planned"

    # CI reports a production deployment whose commit says it ships the decision.
    deployed = await api.post(
        "/api/increments",
        json={
            "service": "billing-api",
            "release_version": "2024.6.1",
            "commit_sha": "a1b2c3d4e5f6",
            "environment": "production",
            "status": "success",
            "started_at": (now - timedelta(minutes=10)).isoformat(),
            "finished_at": now.isoformat(),
            "commits": [
                {
                    "sha": "a1b2c3d4e5f6",
                    "authored_at": (now - timedelta(hours=5)).isoformat(),
                    "message": f"Stream CSV exports (ships {dec})",
                }
            ],
        },
    )
    assert deployed.status_code == 201, deployed.text
    increment = deployed.json()
    assert increment["decision_refs"] == [dec]
    assert increment["shipped_decisions"] == [dec]
    assert increment["shipped_feedback"] == [fb]
    after = {"after": increment["position"]}

    # The feedback is shipped, and so is the decision.
    item = await api.get(f"/api/feedback/{fb}", params=after)
    assert item.json()["item"]["status"] == "shipped"
    decision = await api.get(f"/api/decisions/{dec}", params=after)
    assert decision.json()["decision"]["status"] == "shipped"
    assert [h["event"] for h in decision.json()["history"]][-1] == "MarkedShipped"

    # The time-to-ship lead time counts it: three days from the ask to production.
    lead = await api.get("/api/metrics/lead-time", params={"measure": "ship", **after})
    assert lead.status_code == 200, lead.text
    body = lead.json()
    assert body["measure"] == "ship"
    assert body["unit"] == "seconds"
    [group] = body["groups"]
    assert group["group"] == {}
    assert group["count"] == 1
    assert group["p50"] == pytest.approx(timedelta(days=3).total_seconds())
    # The deployment counts in the team's DORA figures.
    dora = await api.get("/api/metrics/dora", params={"team": "billing", **after})
    assert dora.json()["deployment_frequency"]["deployments"] == 1
    assert dora.json()["lead_time_for_changes"]["count"] == 1
