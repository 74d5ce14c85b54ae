"""/metrics counts the work done outside requests: webhook deliveries received and mapped,
append conflicts and projection batches."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest
from eventsourcing.persistence import StoredEvent
from prometheus_client.parser import text_string_to_metric_families

from domain.errors import ConcurrencyConflict
from infra.recorder import AsyncpgRecorder
from tests.webhook_senders import encode, gitlab_headers, integrate, settled


async def counters(api: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await api.get("/metrics")
    assert answer.status_code == 200
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name.endswith("_total"):
                found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def moved(
    before: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    after: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    name: str,
    **labels: str,
) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_webhooks_conflicts_and_projection_batches_are_counted(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await integrate(api, "gitlab", ["acme/shop"])
    before = await counters(api)

    # A verified delivery is stored and mapped; one with a wrong token is refused.
    body = encode({"object_kind": "push", "project": {"path_with_namespace": "acme/shop"}})
    stored = await api.post("/webhooks/gitlab", content=body, headers=gitlab_headers("Push Hook"))
    assert stored.status_code in {200, 202}, stored.text
    refused = await api.post(
        "/webhooks/gitlab", content=body, headers=gitlab_headers("Push Hook", token="x" * 20)
    )
    assert refused.status_code == 401
    [delivery] = await settled(api, 1)
    # Two writers append the same version of an aggregate: one is refused.
    recorder = AsyncpgRecorder(pool)
    originator = uuid.uuid4()
    first = StoredEvent(originator_id=originator, originator_version=1, topic="t:T", state=b"{}")
    await recorder.append([first])
    with pytest.raises(ConcurrencyConflict):
        await recorder.append([first])
    # A write is projected (read-your-writes waits for its batch).
    created = (await api.post("/api/feedback", json={"text": "hi", "channel": "web"})).json()
    await api.get("/api/feedback", params={"after": created["position"]})

    after = await counters(api)
    received = "loopline_webhook_deliveries_received_total"
    assert moved(before, after, received, source="gitlab", outcome="stored") == 1
    assert moved(before, after, received, source="gitlab", outcome="unverified") == 1
    mapped = "loopline_webhook_deliveries_mapped_total"
    assert moved(before, after, mapped, state=delivery["state"]) == 1
    assert moved(before, after, "loopline_append_conflicts_total") == 1
    assert moved(before, after, "loopline_projection_batches_total", projection="feedback") >= 1
    assert moved(before, after, "loopline_projection_events_total", projection="feedback") >= 1
