"""DORA over HTTP: series per week and month, the benchmark year, the minimum sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api_helpers import ok

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


def sha(n: int) -> str:
    return f"{n:040x}"


async def deploy(
    api: httpx.AsyncClient, finished: datetime, n: int, **extra: object
) -> dict[str, Any]:
    body = {
        "service": "billing-api",
        "environment": "production",
        "commit_sha": sha(n),
        "finished_at": finished.isoformat(),
        "commits": [
            {
                "sha": sha(n),
                "authored_at": (finished - timedelta(hours=2)).isoformat(),
                "message": "x",
            }
        ],
        **extra,
    }
    answer: dict[str, Any] = ok(await api.post("/api/increments", json=body))
    return answer


async def test_series_periods_answer_what_their_window_answers(api: httpx.AsyncClient) -> None:
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    # Six deployments in the week of 2 March, one the week after, none the third week.
    for day in range(6):
        written = await deploy(api, MONDAY + timedelta(days=day, hours=10), day + 1, team="billing")
    written = await deploy(api, MONDAY + timedelta(days=8, hours=10), 7)
    after = {"after": written["position"]}
    window = {"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(weeks=3)).isoformat()}

    weekly = ok(
        await api.get(
            "/api/metrics/dora", params={"team": "billing", "interval": "week", **window, **after}
        )
    )
    assert weekly["interval"] == "week"
    assert weekly["benchmarks"] == "2023"
    assert [p["period"] for p in weekly["periods"]] == ["2026-03-02", "2026-03-09", "2026-03-16"]
    first, second, empty = weekly["periods"]
    # Each period has the single answer's fields, and its figures.
    for period in weekly["periods"]:
        alone = ok(
            await api.get(
                "/api/metrics/dora",
                params={
                    "team": "billing",
                    "from": period["window"]["from"],
                    "to": period["window"]["to"],
                },
            )
        )
        assert {k: v for k, v in period.items() if k != "period"} == alone
    # Six deployments on six days in one week: elite; the one the week after is too few.
    assert first["deployment_frequency"]["deployments"] == 6
    assert first["deployment_frequency"]["tier"] == "elite"
    assert first["change_failure_rate"]["tier"] == "elite"
    assert second["deployment_frequency"]["tier"] is None
    assert "too few" in second["deployment_frequency"]["tier_reason"]
    # An empty week is present, with null figures.
    assert empty["deployment_frequency"]["deployments"] == 0
    assert empty["lead_time_for_changes"]["p50"] is None
    assert empty["change_failure_rate"]["rate"] is None

    monthly = ok(
        await api.get(
            "/api/metrics/dora",
            params={"team": "billing", "interval": "month", "benchmarks": "2021", **window},
        )
    )
    assert [p["period"] for p in monthly["periods"]] == ["2026-03"]
    assert monthly["benchmarks"] == "2021"
    assert monthly["periods"][0]["benchmarks"] == "2021"

    # Lead time series too: the period is its own window's answer.
    lead = ok(
        await api.get(
            "/api/metrics/lead-time", params={"measure": "triage", "interval": "month", **window}
        )
    )
    assert [p["period"] for p in lead["periods"]] == ["2026-03"]
    assert lead["periods"][0]["groups"] == [
        {
            "group": {},
            "count": 0,
            "mean": None,
            "p50": None,
            "p75": None,
            "p85": None,
            "p95": None,
            "clamped": 0,
        }
    ]

    # Bad choices are 400s naming the parameter.
    for params in ({"interval": "day"}, {"benchmarks": "2019"}):
        bad = await api.get("/api/metrics/dora", params=params)
        assert bad.status_code == 400, bad.text
    no_series = await api.get(
        "/api/metrics/lead-time", params={"measure": "open_age", "interval": "week"}
    )
    assert no_series.status_code == 400
    assert no_series.json()["field"] == "interval"
