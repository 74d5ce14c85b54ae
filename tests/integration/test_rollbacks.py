"""Rollbacks: an increment recorded as the rollback of earlier ones (API, generic webhook,
CLI import), and a redeployment of an ancestor commit seen through GitHub's and GitLab's
real payload shapes. Rolled-back deployments are failed changes, recovered at the
rollback's finish."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain import services
from infra.eventstore import PostgresEventStore
from loopline.importing import increment_row
from tests.api_helpers import ok
from tests.webhook_senders import (
    GITHUB_FIXTURES,
    GITLAB_FIXTURES,
    encode,
    generic_headers,
    github_headers,
    gitlab_headers,
    integrate,
    settled,
)

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
A, B, C = "a" * 40, "b" * 40, "c" * 40


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def fixture(folder: Path, name: str) -> dict[str, Any]:
    if not folder.is_dir():
        pytest.skip(f"example payloads not found at {folder}")
    loaded: dict[str, Any] = json.loads((folder / name).read_text())
    return copy.deepcopy(loaded)


async def dora_between(api: httpx.AsyncClient, service: str, **params: Any) -> dict[str, Any]:
    window = {"from": iso(T - timedelta(days=1)), "to": iso(T + timedelta(days=7))}
    answer: dict[str, Any] = ok(
        await api.get("/api/metrics/dora", params={"service": service, **window, **params})
    )
    return answer


async def test_an_increment_recorded_as_the_rollback_of_another(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))

    def body(n: int, finished: datetime, **extra: Any) -> dict[str, Any]:
        return {
            "service": "billing-api",
            "environment": "production",
            "commit_sha": f"{n:040x}",
            "finished_at": iso(finished),
            "external_ref": f"deploy-{n}",
            **extra,
        }

    # Two deployments; an hour after the second, a third puts the first one's code back.
    first = ok(await api.post("/api/increments", json=body(1, T, team="billing")))
    second = ok(await api.post("/api/increments", json=body(2, T + timedelta(days=1))))
    rollback = ok(
        await api.post(
            "/api/increments",
            json=body(3, T + timedelta(days=1, hours=1), rolls_back=[second["id"]]),
        )
    )
    # The second is rolled back by the third; the first is untouched.
    rolled = await services.get_increment(event_store, uuid.UUID(second["id"]))
    assert rolled.status == "rolled_back"
    assert (await services.get_increment(event_store, uuid.UUID(first["id"]))).status == (
        "succeeded"
    )
    # DORA: 3 production deployments, the rolled-back one failed; recovered in 1 hour.
    dora = await dora_between(api, "billing-api", after=rollback["position"])
    assert dora["deployment_frequency"]["deployments"] == 2
    assert (dora["change_failure_rate"]["failed"], dora["change_failure_rate"]["deployments"]) == (
        1,
        3,
    )
    assert dora["recovery_time"]["count"] == 1
    assert dora["recovery_time"]["p50"] == 3600
    # Naming it by its external reference works too; a rollback of nothing known is a 404,
    # and one that finished before what it rolls back is refused.
    again = body(4, T + timedelta(days=2), rolls_back=["deploy-1"])
    assert (await api.post("/api/increments", json=again)).status_code == 201
    unknown = body(5, T + timedelta(days=3), rolls_back=["deploy-404"])
    assert (await api.post("/api/increments", json=unknown)).status_code == 404
    early = body(6, T - timedelta(days=1), rolls_back=[rollback["id"]])
    assert (await api.post("/api/increments", json=early)).status_code in (400, 422)


async def test_the_generic_body_and_the_import_name_what_they_roll_back(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    ok(await api.post("/api/teams", json={"slug": "ops", "name": "Ops"}))
    ok(await api.post("/api/teams/ops/repositories", json={"repository": "acme/jobs"}))
    await integrate(api, "generic", ["acme/jobs"])

    def deployment(sender_id: str, head: str, finished: datetime, **extra: Any) -> bytes:
        return encode(
            {
                "type": "deployment",
                "id": sender_id,
                "repository": "acme/jobs",
                "status": "success",
                "commit_sha": head,
                "finished_at": iso(finished),
                **extra,
            }
        )

    for n, payload in enumerate(
        (
            deployment("run-1", A, T),
            deployment("run-2", B, T + timedelta(hours=1)),
            deployment("run-3", A, T + timedelta(hours=3), rollback_of=["run-2"]),
        ),
        start=1,
    ):
        answer = await api.post(
            "/webhooks/generic", content=payload, headers=generic_headers(payload)
        )
        assert answer.status_code == 202, answer.text
        await settled(api, n)
    [third, second, _] = await settled(api, 3)
    assert third["state"] == "mapped", third
    assert third["outcome"]["rolls_back"]
    rolled = await services.get_increment(event_store, uuid.UUID(second["outcome"]["increment"]))
    assert rolled.status == "rolled_back"
    dora = await dora_between(api, "acme/jobs")
    assert dora["recovery_time"]["p50"] == 2 * 3600

    # A line of `loopline import increments` names the earlier line it rolls back.
    row = increment_row(event_store)
    line = {"service": "acme/jobs", "commit_sha": C, "finished_at": iso(T + timedelta(days=1))}
    assert await row({**line, "external_ref": "import-1"})
    assert await row(
        {
            **line,
            "commit_sha": A,
            "finished_at": iso(T + timedelta(days=1, hours=2)),
            "rolls_back": ["import-1"],
        }
    )
    imported = await services.find_increment(event_store, "import-1")
    assert imported.status == "rolled_back"


def github_push(before: str, after: str, authored: datetime) -> dict[str, Any]:
    push = fixture(GITHUB_FIXTURES, "push.with-new-branch.payload.json")
    push["before"], push["after"], push["created"] = before, after, False
    [shape] = push["commits"][:1]
    commit = {**shape, "id": after, "timestamp": iso(authored), "message": f"change {after[:4]}"}
    push["commits"], push["head_commit"] = [commit], commit
    return push


def github_deployment(number: int, head: str, finished: datetime) -> dict[str, Any]:
    status = fixture(GITHUB_FIXTURES, "deployment_status.payload.json")
    status["deployment"].update(
        id=1000 + number, sha=head, created_at=iso(finished - timedelta(minutes=5))
    )
    status["deployment_status"].update(
        id=2000 + number, state="success", created_at=iso(finished), updated_at=iso(finished)
    )
    return status


async def test_github_redeploying_an_ancestor_rolls_back_what_came_after(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    repository = "Codertocat/Hello-World"
    ok(await api.post("/api/teams", json={"slug": "hello", "name": "Hello"}))
    ok(await api.post("/api/teams/hello/repositories", json={"repository": repository}))
    await integrate(api, "github", [repository])
    # Pushes A, then B on A, then C on B; A and B are deployed, then A again.
    deliveries = [
        ("push", github_push("0" * 40, A, T - timedelta(hours=2))),
        ("push", github_push(A, B, T - timedelta(hours=1))),
        ("push", github_push(B, C, T + timedelta(days=2))),
        ("deployment_status", github_deployment(1, A, T)),
        ("deployment_status", github_deployment(2, B, T + timedelta(hours=1))),
        ("deployment_status", github_deployment(3, A, T + timedelta(hours=1, minutes=45))),
    ]
    for n, (event, payload) in enumerate(deliveries, start=1):
        raw = encode(payload)
        answer = await api.post("/webhooks/github", content=raw, headers=github_headers(raw, event))
        assert answer.status_code == 202, answer.text
        await settled(api, n)
    redeployed, second, first = (await settled(api, len(deliveries)))[:3]
    # The redeployment of A rolls back B's deployment (not A's own first one).
    assert redeployed["outcome"]["rolls_back"] == [second["outcome"]["increment"]]
    assert (
        await services.get_increment(event_store, uuid.UUID(second["outcome"]["increment"]))
    ).status == "rolled_back"
    assert (
        await services.get_increment(event_store, uuid.UUID(first["outcome"]["increment"]))
    ).status == "succeeded"
    # B's deployment failed, recovered 45 minutes after it finished.
    dora = await dora_between(api, "codertocat/hello-world")
    assert dora["change_failure_rate"]["failed"] == 1
    assert dora["recovery_time"]["p50"] == 45 * 60
    # Deploying A yet again rolls back nothing more (B is already rolled back).
    raw = encode(github_deployment(4, A, T + timedelta(hours=3)))
    await api.post(
        "/webhooks/github", content=raw, headers=github_headers(raw, "deployment_status")
    )
    again = (await settled(api, len(deliveries) + 1))[0]
    assert "rolls_back" not in again["outcome"]


def gitlab_push(before: str, after: str, authored: datetime) -> dict[str, Any]:
    push = fixture(GITLAB_FIXTURES, "push.json")
    push.update(before=before, after=after, checkout_sha=after, total_commits_count=1)
    commit = {**push["commits"][0], "id": after, "timestamp": iso(authored)}
    push["commits"] = [commit]
    return push


def gitlab_deployment(number: int, head: str, finished: datetime) -> dict[str, Any]:
    deployment = fixture(GITLAB_FIXTURES, "deployment.json")
    deployment.update(
        deployment_id=number,
        status="success",
        environment="production",
        short_sha=head[:8],
        commit_url=deployment["commit_url"].rsplit("/", 1)[0] + "/" + head,
        status_changed_at=finished.strftime("%Y-%m-%d %H:%M:%S +0000"),
    )
    return deployment


async def test_gitlab_redeploying_an_ancestor_rolls_back_what_came_after(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    repository = fixture(GITLAB_FIXTURES, "push.json")["project"]["path_with_namespace"]
    deployed_repository = fixture(GITLAB_FIXTURES, "deployment.json")["project"][
        "path_with_namespace"
    ]
    ok(await api.post("/api/teams", json={"slug": "lab", "name": "Lab"}))
    for name in {repository, deployed_repository}:
        ok(await api.post("/api/teams/lab/repositories", json={"repository": name}))
    await integrate(api, "gitlab", sorted({repository, deployed_repository}))
    # The example payloads name two projects; the story is told in the deployment's.
    deliveries = [
        gitlab_push("0" * 40, A, T - timedelta(hours=2)),
        gitlab_push(A, B, T - timedelta(hours=1)),
        gitlab_deployment(1, A, T),
        gitlab_deployment(2, B, T + timedelta(hours=1)),
        gitlab_deployment(3, A, T + timedelta(hours=2)),
    ]
    for payload in deliveries[:2]:
        payload["project"]["path_with_namespace"] = deployed_repository
    for n, payload in enumerate(deliveries, start=1):
        event = "Push Hook" if payload["object_kind"] == "push" else "Deployment Hook"
        answer = await api.post(
            "/webhooks/gitlab", content=encode(payload), headers=gitlab_headers(event)
        )
        assert answer.status_code == 202, answer.text
        await settled(api, n)
    redeployed, second, _ = (await settled(api, len(deliveries)))[:3]
    assert redeployed["state"] == "mapped", redeployed
    assert redeployed["outcome"]["rolls_back"] == [second["outcome"]["increment"]]
    dora = await dora_between(api, deployed_repository.lower())
    assert dora["change_failure_rate"]["failed"] == 1
    assert dora["recovery_time"]["p50"] == 3600
