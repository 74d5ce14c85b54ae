"""Operators' endpoints and the live stream, over HTTP against a running server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx

from projections.catalog import all_projections


async def test_readiness_reports_projections_and_fails_when_one_stopped(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    # A fresh instance is ready once its projections exist.
    created = (await api.post("/api/feedback", json={"text": "hi", "channel": "web"})).json()
    await api.get("/api/feedback", params={"after": created["position"]})
    ready = await api.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["ready"] is True
    assert body["migrations_current"] is True
    # Every projection the instance runs is reported, none left out.
    assert {p["name"] for p in body["projections"]} == {p.name for p in all_projections()}
    assert all(p["lag"] == 0 for p in body["projections"])
    # A projection that stopped on an event makes the instance not ready.
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE projection_registry SET failed_position = 1, failed_error = 'boom' "
            "WHERE name = 'backlog'"
        )
    failing = await api.get("/readyz")
    assert failing.status_code == 503
    assert "projection backlog stopped at position 1" in failing.json()["problems"]


async def test_prometheus_metrics_include_requests_and_projection_lag(
    api: httpx.AsyncClient,
) -> None:
    await api.get("/api/feedback")
    scraped = await api.get("/metrics")
    assert scraped.status_code == 200
    text = scraped.text
    assert "loopline_projection_lag_events" in text
    assert "loopline_event_store_head" in text
    assert "loopline_requests_total" in text


async def read_changes(
    client: httpx.AsyncClient, params: dict[str, str], wanted: int, headers: dict[str, str]
) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    async with client.stream(
        "GET", "/api/events/stream", params=params, headers=headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                changes.append(json.loads(line[len("data: ") :]))
                if len(changes) == wanted:
                    break
    return changes


async def test_stream_pushes_changes_and_resumes_from_last_event_id(
    api: httpx.AsyncClient,
) -> None:
    first = (await api.post("/api/feedback", json={"text": "one", "channel": "web"})).json()
    # A subscriber that last saw `first` gets what came after it, then live changes.
    listening = asyncio.create_task(
        read_changes(api, {}, 2, {"Last-Event-ID": str(first["position"])})
    )
    second = (await api.post("/api/feedback", json={"text": "two", "channel": "web"})).json()
    await asyncio.sleep(0.3)
    await api.post(f"/api/feedback/{second['key']}/decline", json={"reason": "no"})
    changes = await asyncio.wait_for(listening, timeout=20)
    assert [(c["key"] or c["id"], c["event"]) for c in changes] == [
        (second["key"], "Received"),
        (second["id"], "Declined"),
    ]
    assert changes[1]["status"] == "declined"
    assert changes[0]["position"] > first["position"]


def _sample(text: str, metric: str, **labels: str) -> float:
    """The value of `metric`'s series with exactly these labels (0 when absent)."""
    wanted = {**labels, "app_name": "loopline"}
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if name != metric:
            continue
        body, _, value = rest.rpartition("} ")
        found = dict(part.split("=", 1) for part in body.split(","))
        if {k: v.strip('"') for k, v in found.items()} == wanted:
            return float(value)
    return 0.0


async def test_request_metrics_count_each_route_and_status_and_leave_out_the_excluded(
    api: httpx.AsyncClient,
) -> None:
    """Counted by method, route template and status (a refusal by the authentication
    middleware too); /metrics and the stream not at all."""
    route = {"method": "GET", "path": "/api/feedback"}
    before = (await api.get("/metrics")).text
    assert (await api.get("/api/feedback", params={"limit": 3})).status_code == 200
    assert (await api.get("/api/feedback", params={"limt": 3})).status_code == 400
    # Refused by the authentication middleware, before the route: counted as its 401.
    stranger = {"Authorization": "Bearer ll_never-issued"}
    assert (await api.get("/api/feedback", headers=stranger)).status_code == 401
    after = (await api.get("/metrics")).text
    for status, more in (("200", 1), ("400", 1), ("401", 1), ("500", 0)):
        counted = _sample(after, "loopline_requests_total", **route, status_code=status)
        assert (
            counted - _sample(before, "loopline_requests_total", **route, status_code=status)
            == more
        )
    timed = "loopline_request_duration_seconds_count"
    assert (
        _sample(after, timed, **route, status_code="200")
        - _sample(before, timed, **route, status_code="200")
        == 1
    )
    assert _sample(after, "loopline_requests_in_progress", **route, status_code="200") == 0
    assert 'path="/metrics"' not in after
    assert 'path="/api/events/stream"' not in after
