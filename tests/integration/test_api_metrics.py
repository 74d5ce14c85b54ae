"""Metrics over HTTP: the issue-5 shapes, filters, and 400s that name the bad parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api_helpers import ok

FIGURES = {"count", "mean", "p50", "p75", "p85", "p95"}


async def test_metrics_shapes_and_bad_parameters(api: httpx.AsyncClient) -> None:
    # Without data: one empty group, and DORA tiers are null.
    empty = ok(await api.get("/api/metrics/lead-time", params={"measure": "triage"}))
    assert empty == {
        "measure": "triage",
        "unit": "seconds",
        "groups": [{"group": {}, **dict.fromkeys(FIGURES - {"count"}), "count": 0, "clamped": 0}],
    }
    dora = ok(await api.get("/api/metrics/dora"))
    assert dora["unit"] == "seconds"
    assert set(dora["deployment_frequency"]) == {
        "deployments",
        "deployment_days",
        "per_week",
        "tier",
        "tier_reason",
    }
    assert set(dora["lead_time_for_changes"]) == {
        "count",
        "mean",
        "p50",
        "p85",
        "tier",
        "tier_reason",
    }
    assert set(dora["change_failure_rate"]) == {
        "failed",
        "deployments",
        "rate",
        "tier",
        "tier_reason",
    }
    for recovery in ("recovery_time", "time_to_restore"):
        assert set(dora[recovery]) == {"count", "mean", "p50", "tier", "tier_reason"}
    assert dora["deployment_frequency"]["tier"] is None
    assert "no successful production deployments" in dora["deployment_frequency"]["tier_reason"]
    # Without from/to, DORA covers the last 12 weeks and says so.
    assert dora["benchmarks"] == "2023"
    assert dora["window"]["default"].startswith("the last 12 weeks")
    window = datetime.fromisoformat(dora["window"]["to"]) - datetime.fromisoformat(
        dora["window"]["from"]
    )
    assert window == timedelta(weeks=12)

    # Bad choices are 400 problems naming the parameter.
    for params, field in (
        ({"measure": "speed"}, "measure"),
        ({"measure": "ship", "group_by": "colour"}, "group_by"),
        ({"measure": "ship", "from": "yesterday"}, "from"),
        ({"measure": "ship", "to": "2024-06-01T00:00:00"}, "to"),
    ):
        bad = await api.get("/api/metrics/lead-time", params=params)
        assert bad.status_code == 400, (params, bad.text)
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["field"] == field
    bad_window = await api.get("/api/metrics/dora", params={"from": "soon"})
    assert bad_window.status_code == 400
    assert bad_window.json()["field"] == "from"
    missing = await api.get("/api/metrics/lead-time")
    assert missing.status_code == 400
    assert "measure" in missing.text

    # Two items from two channels, triaged an hour and a day after they arrived.
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    now = datetime.now(UTC).replace(microsecond=0)
    position = 0
    for channel, waited in (("chat", timedelta(hours=1)), ("email", timedelta(days=1))):
        body = {"text": "hi", "channel": channel, "received_at": (now - waited).isoformat()}
        key = ok(await api.post("/api/feedback", json=body))["key"]
        triaged = ok(await api.post(f"/api/feedback/{key}/triage", json={"team": "billing"}))
        position = triaged["position"]

    # Grouped by channel: one group per channel, each with its figures.
    by_channel = ok(
        await api.get(
            "/api/metrics/lead-time",
            params={"measure": "triage", "group_by": "channel", "after": position},
        )
    )
    groups = {g["group"]["channel"]: g for g in by_channel["groups"]}
    assert set(groups) == {"chat", "email"}
    assert set(groups["chat"]) == {"group", "clamped", *FIGURES}
    assert groups["chat"]["p50"] == pytest.approx(3600, abs=5)
    # By team, the group names the team's slug and id.
    by_team = ok(
        await api.get("/api/metrics/lead-time", params={"measure": "triage", "group_by": "team"})
    )
    [team] = by_team["groups"]
    assert team["group"]["team"] == "billing"
    assert team["count"] == 2
    # `from`/`to` select spans by when they ended: none ended tomorrow.
    tomorrow = (now + timedelta(days=1)).isoformat()
    later = ok(
        await api.get("/api/metrics/lead-time", params={"measure": "triage", "from": tomorrow})
    )
    assert later["groups"][0]["count"] == 0
    window = ok(
        await api.get(
            "/api/metrics/lead-time",
            params={"measure": "triage", "to": tomorrow, "team": "billing", "channel": "chat"},
        )
    )
    assert window["groups"][0]["count"] == 1
    dora_window = await api.get(
        "/api/metrics/dora", params={"team": "billing", "from": now.isoformat(), "to": tomorrow}
    )
    assert dora_window.status_code == 200, dora_window.text

    # Scorecards: one per outcome, with the team that adopted it.
    outcome = ok(
        await api.post(
            "/api/outcomes",
            json={"statement": "Exports just work", "measure": "export tickets", "team": "billing"},
        )
    )
    cards = ok(await api.get("/api/metrics/outcomes", params={"after": outcome["position"]}))
    assert [c["id"] for c in cards] == [outcome["id"]]
    assert [t["slug"] for t in cards[0]["teams"]] == ["billing"]
