"""Increments and incidents over HTTP: idempotent recording, lists with filters and cursors,
and the DORA figures they feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api_helpers import ok


async def test_increments_and_incidents_feed_dora(api: httpx.AsyncClient) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    ok(await api.post("/api/teams/billing/repositories", json={"repository": "billing-api"}))

    # Two production deployments an hour apart; the second one failed.
    deployments = []
    for hours_ago, status, sha in ((2, "success", "aaaaaaa1"), (1, "failure", "bbbbbbb2")):
        finished = now - timedelta(hours=hours_ago)
        body = {
            "service": "billing-api",
            "environment": "production",
            "status": status,
            "commit_sha": sha,
            "started_at": (finished - timedelta(minutes=5)).isoformat(),
            "finished_at": finished.isoformat(),
            "commits": [
                {
                    "sha": sha,
                    "authored_at": (finished - timedelta(hours=1)).isoformat(),
                    "message": "x",
                }
            ],
        }
        recorded = await api.post("/api/increments", json=body)
        assert recorded.status_code == 201, recorded.text
        deployments.append(recorded.json())
        # The same report again answers the same increment with 200 and records nothing.
        again = await api.post("/api/increments", json=body)
        assert again.status_code == 200
        assert (again.json()["id"], again.json()["position"]) == (recorded.json()["id"], None)
    assert [d["status"] for d in deployments] == ["succeeded", "failed"]

    # The first deployment caused an incident, resolved 30 minutes after it opened.
    opened = await api.post(
        "/api/incidents",
        json={
            "service": "billing-api",
            "title": "Invoices fail to render",
            "opened_at": (now - timedelta(minutes=100)).isoformat(),
            "caused_by_sha": "aaaaaaa1",
        },
    )
    assert opened.status_code == 201, opened.text
    incident = opened.json()
    assert incident["status"] == "open"
    resolved = await api.post(
        f"/api/incidents/{incident['id']}/resolve",
        json={"resolved_at": (now - timedelta(minutes=70)).isoformat()},
    )
    assert resolved.status_code == 201, resolved.text
    assert resolved.json()["status"] == "resolved"
    # Resolving twice is impossible; an unknown incident is not found.
    twice = await api.post(f"/api/incidents/{incident['id']}/resolve", json={})
    assert twice.status_code == 422
    unknown = await api.post(f"/api/incidents/{deployments[0]['id']}/resolve", json={})
    assert unknown.status_code == 404
    after = {"after": resolved.json()["position"]}

    # Increments list newest first, filter by status, and page with a cursor.
    page = ok(await api.get("/api/increments", params={"team": "billing", "limit": 1, **after}))
    assert [i["id"] for i in page["items"]] == [deployments[1]["id"]]
    assert page["items"][0]["team"] == "billing"
    rest = ok(await api.get("/api/increments", params={"limit": 1, "cursor": page["next_cursor"]}))
    assert [i["id"] for i in rest["items"]] == [deployments[0]["id"]]
    assert rest["next_cursor"] is None
    failed = ok(await api.get("/api/increments", params={"status": "failed"}))
    assert [i["id"] for i in failed["items"]] == [deployments[1]["id"]]
    bad_cursor = await api.get("/api/increments", params={"cursor": "nonsense"})
    assert bad_cursor.status_code == 400
    assert bad_cursor.json()["field"] == "cursor"
    # Incidents list with their status.
    incidents = ok(await api.get("/api/incidents", params={"status": "resolved", **after}))
    assert [i["id"] for i in incidents["items"]] == [incident["id"]]
    assert ok(await api.get("/api/incidents", params={"status": "open"}))["items"] == []

    # DORA: two deployments, both failed (one failed, one caused an incident); restored in 30 min.
    dora = ok(await api.get("/api/metrics/dora", params={"team": "billing", **after}))
    assert dora["deployment_frequency"]["deployments"] == 1
    assert dora["change_failure_rate"]["deployments"] == 2
    assert dora["change_failure_rate"]["failed"] == 2
    assert dora["time_to_restore"]["p50"] == pytest.approx(1800)


async def test_an_increment_is_written_and_read_under_one_name_per_field(
    api: httpx.AsyncClient,
) -> None:
    # Written with the names every increment answer uses: release_version and commit_sha
    # (an answer's `version` is the increment's own, for If-Match).
    ok(await api.post("/api/teams", json={"slug": "names", "name": "Names"}))
    body = {
        "service": "names-api",
        "team": "names",
        "environment": "production",
        "release_version": "2024.6.1",
        "commit_sha": "abcdef1",
        "finished_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    recorded = await api.post("/api/increments", json=body)
    assert recorded.status_code == 201, recorded.text
    # The earlier name of release_version is refused, naming it.
    again = await api.post("/api/increments", json={**body, "version": "2024.6.1"})
    assert again.status_code == 400, again.text

    [item] = ok(
        await api.get(
            "/api/increments",
            params={"service": "names-api", "after": str(recorded.json()["position"])},
        )
    )["items"]
    assert {k: item[k] for k in ("release_version", "commit_sha")} == {
        "release_version": "2024.6.1",
        "commit_sha": "abcdef1",
    }
    assert item["version"] == recorded.json()["version"]
