"""The inbox's promises over HTTP: rejected deliveries store nothing; redeliveries change
nothing; GitLab and generic senders are verified their own way and mapped alike."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import httpx

from domain import services
from infra.eventstore import PostgresEventStore
from tests.webhook_senders import (
    encode,
    generic_headers,
    github_headers,
    gitlab_headers,
    integrate,
    settled,
)

REPOSITORY = "acme/billing"


def deployment_status(status_id: int = 900, state: str = "success") -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {
            "id": status_id,
            "state": state,
            "environment": "production",
            "created_at": "2024-05-01T10:05:00Z",
        },
        "deployment": {
            "id": 90,
            "sha": "e" * 40,
            "ref": "main",
            "environment": "production",
            "created_at": "2024-05-01T10:00:00Z",
        },
        "repository": {"full_name": REPOSITORY},
    }


async def stored(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM webhook_deliveries"))


async def increment_events(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT topic FROM stored_events WHERE topic LIKE '%Increment%'"
            " ORDER BY notification_id"
        )
    return [row["topic"] for row in rows]


async def setup(api: httpx.AsyncClient, store: PostgresEventStore, source: str) -> None:
    await services.form_team(store, slug="billing", name="Billing")
    await services.own_repository(store, "billing", repository=REPOSITORY)
    await integrate(api, source, [REPOSITORY])


async def test_rejected_deliveries_store_nothing(
    api: httpx.AsyncClient, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await setup(api, event_store, "github")
    await integrate(api, "gitlab", [REPOSITORY])
    await integrate(api, "generic", [REPOSITORY])
    body = encode(deployment_status())
    # GitHub: a forged signature, a missing one, a repository no integration lists.
    forged = github_headers(body, "deployment_status")
    forged["x-hub-signature-256"] = "sha256=" + "0" * 64
    missing = github_headers(body, "deployment_status")
    del missing["x-hub-signature-256"]
    other = encode({**deployment_status(), "repository": {"full_name": "acme/other"}})
    gitlab_body = encode({"object_kind": "push", "project": {"path_with_namespace": REPOSITORY}})
    generic_body = encode({"type": "deployment", "repository": REPOSITORY})
    stale = generic_headers(generic_body, timestamp=int(time.time()) - 6 * 60)
    future = generic_headers(generic_body, timestamp=int(time.time()) + 6 * 60)
    tampered = generic_headers(generic_body)
    attempts = [
        ("/webhooks/github", body, forged),
        ("/webhooks/github", body, missing),
        ("/webhooks/github", other, github_headers(other, "deployment_status")),
        ("/webhooks/gitlab", gitlab_body, gitlab_headers("Push Hook", token="wrong-token-x")),
        ("/webhooks/gitlab", gitlab_body, {"x-gitlab-event": "Push Hook"}),
        ("/webhooks/generic", generic_body, stale),
        ("/webhooks/generic", generic_body, future),
        ("/webhooks/generic", generic_body + b" ", tampered),
    ]
    for path, content, headers in attempts:
        answer = await api.post(path, content=content, headers=headers)
        assert answer.status_code == 401, (path, headers, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    # A body over 1 MiB is refused before it is read: 413.
    huge = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    answer = await api.post(
        "/webhooks/github", content=huge, headers=github_headers(huge, "deployment_status")
    )
    assert answer.status_code == 413
    assert await stored(pool) == 0
    assert await increment_events(pool) == []


async def test_redeliveries_in_sequence_and_concurrently_make_one_set_of_events(
    api: httpx.AsyncClient, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await setup(api, event_store, "github")
    body = encode(deployment_status())
    headers = github_headers(body, "deployment_status", delivery="delivery-1")
    # The same delivery 100 times in a row, then 20 times at once.
    answers = [
        await api.post("/webhooks/github", content=body, headers=headers) for _ in range(100)
    ]
    answers += await asyncio.gather(
        *(api.post("/webhooks/github", content=body, headers=headers) for _ in range(20))
    )
    assert {a.status_code for a in answers} == {202}
    assert sum(not a.json()["duplicate"] for a in answers) == 1
    # GitHub's "redeliver" may send the same fact under new delivery ids, 20 at once.
    await asyncio.gather(
        *(
            api.post(
                "/webhooks/github", content=body, headers=github_headers(body, "deployment_status")
            )
            for _ in range(20)
        )
    )
    deliveries = await settled(api, 21)
    assert len(deliveries) == 21
    assert {d["state"] for d in deliveries} == {"mapped"}
    assert len({d["outcome"]["increment"] for d in deliveries}) == 1
    # Exactly one increment was recorded (its Recorded event and its index's).
    topics = await increment_events(pool)
    assert len([t for t in topics if t.endswith("Increment.Recorded")]) == 1, topics


async def test_gitlab_deployment_and_issue_hooks_are_mapped(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    await setup(api, event_store, "gitlab")
    project = {"path_with_namespace": REPOSITORY}
    sha = "f" * 40
    hooks: list[tuple[str, dict[str, Any]]] = [
        (
            "Push Hook",
            {
                "object_kind": "push",
                "before": "0" * 40,
                "after": sha,
                "ref": "refs/heads/main",
                "project": project,
                "commits": [
                    {"id": sha, "message": "Speed up exports", "timestamp": "2024-05-01T08:00:00Z"}
                ],
            },
        ),
        (
            "Deployment Hook",
            {
                "object_kind": "deployment",
                "status": "success",
                "deployment_id": 15,
                "environment": "production",
                "status_changed_at": "2024-05-01 12:50:00 +0200",
                "commit_url": f"https://gitlab.example.com/acme/billing/-/commit/{sha}",
                "short_sha": sha[:8],
                "ref": "main",
                "project": project,
            },
        ),
        (
            "Issue Hook",
            {
                "object_kind": "issue",
                "project": project,
                "labels": [{"title": "incident"}],
                "object_attributes": {
                    "id": 301,
                    "iid": 3,
                    "title": "Exports time out",
                    "action": "open",
                    "created_at": "2024-05-01 11:00:00 UTC",
                },
            },
        ),
    ]
    for event, payload in hooks:
        answer = await api.post(
            "/webhooks/gitlab", content=encode(payload), headers=gitlab_headers(event)
        )
        assert answer.status_code == 202, answer.text
        await settled(api, 1)
    deliveries = {d["event"]: d for d in await settled(api, 3)}
    assert {d["state"] for d in deliveries.values()} == {"mapped"}, deliveries
    increment = await services.get_increment(
        event_store, uuid.UUID(deliveries["Deployment Hook"]["outcome"]["increment"])
    )
    assert [c.sha for c in increment.commits] == [sha]
    assert increment.finished_at.isoformat() == "2024-05-01T10:50:00+00:00"
    assert deliveries["Issue Hook"]["outcome"]["created"] is True


async def test_generic_deployment_and_incident_bodies_are_mapped(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    await setup(api, event_store, "generic")
    item = (await api.post("/api/feedback", json={"text": "Slow", "channel": "chat"})).json()
    deployment = {
        "type": "deployment",
        "id": "deploy-1",
        "repository": REPOSITORY,
        "environment": "production",
        "status": "success",
        "version": "2024.5.1",
        "finished_at": "2024-05-01T10:04:00Z",
        "commits": [{"sha": "1" * 40, "authored_at": "2024-05-01T09:00:00Z", "message": "faster"}],
        "references": [f"ships {item['key']}"],
    }
    incident = {
        "type": "incident",
        "id": "INC-1",
        "repository": REPOSITORY,
        "action": "opened",
        "title": "Slow again",
        "opened_at": "2024-05-01T11:00:00Z",
    }
    resolved = {**incident, "action": "resolved", "resolved_at": "2024-05-01T12:00:00Z"}
    for payload in (deployment, incident, resolved, {"type": "heartbeat", "service": REPOSITORY}):
        body = json.dumps(payload).encode()
        answer = await api.post("/webhooks/generic", content=body, headers=generic_headers(body))
        assert answer.status_code == 202, answer.text
        await settled(api, 1)
    deliveries = await settled(api, 4)
    states = [(d["event"], d["state"]) for d in reversed(deliveries)]
    assert states == [
        ("deployment", "mapped"),
        ("incident", "mapped"),
        ("incident", "mapped"),
        ("heartbeat", "ignored"),
    ]
    assert (await services.get_feedback(event_store, item["key"])).status == "shipped"
    incident_id = deliveries[1]["outcome"]["incident"]
    assert deliveries[1]["outcome"]["resolved"] is True
    assert incident_id == deliveries[2]["outcome"]["incident"]


async def test_a_generic_deployment_names_its_commit_as_an_increment_does(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    await setup(api, event_store, "generic")
    # Today's name, commit_sha, as IncrementCreate and every increment answer name it; and
    # `sha`, its earlier name, in a delivery sent before (stored ones are mapped again).
    for n, name in enumerate(("commit_sha", "sha"), start=1):
        payload = {
            "type": "deployment",
            "id": f"deploy-{n}",
            "repository": REPOSITORY,
            "status": "success",
            name: str(n) * 40,
            "finished_at": f"2024-05-0{n}T10:04:00Z",
        }
        body = json.dumps(payload).encode()
        answer = await api.post("/webhooks/generic", content=body, headers=generic_headers(body))
        assert answer.status_code == 202, answer.text
        await settled(api, n)

    deliveries = await settled(api, 2)
    assert [d["state"] for d in deliveries] == ["mapped", "mapped"]
    increments = [
        await services.get_increment(event_store, d["outcome"]["increment"]) for d in deliveries
    ]
    assert {i.commit_sha for i in increments} == {"1" * 40, "2" * 40}
