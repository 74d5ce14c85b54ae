"""GitHub deliveries over HTTP: every real example payload, and a delivery linked end to end."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from domain import services
from infra.eventstore import PostgresEventStore
from tests.webhook_senders import GITHUB_FIXTURES, encode, github_headers, integrate, settled

REPOSITORIES = ["Codertocat/Hello-World", "octo-org/octo-repo", "Octocoders/Hello-World"]

# What each example payload must come to: (state, text in its reason or outcome).
EXPECTED: dict[str, tuple[str, str]] = {
    "deployment.payload.json": ("ignored", "its outcome arrives as deployment_status"),
    "deployment_status.gh-pages.payload.json": ("ignored", "not a production environment"),
    "deployment_status.payload.json": ("mapped", "increment"),
    "deployment_status.with-installation.payload.json": ("mapped", "increment"),
    "issues.labeled.payload.json": ("ignored", "is not labelled 'incident'"),
    "issues.opened.payload.json": ("ignored", "is not labelled 'incident'"),
    "ping.payload.json": ("ignored", "ping"),
    "pull_request.closed.payload.json": ("ignored", "closed without being merged"),
    "pull_request.closed.with-organization.payload.json": (
        "ignored",
        "closed without being merged",
    ),
    "pull_request.opened.payload.json": ("ignored", "only merged pull requests link"),
    "push.payload.json": ("ignored", "push deleted refs/tags/simple-tag"),
    "push.with-new-branch.payload.json": ("mapped", "commits"),
    "push.with-no-username-committer.payload.json": ("mapped", "commits"),
    "push.with-organization.payload.json": ("ignored", "push deleted refs/tags/simple-tag"),
    "release.published.payload.json": ("mapped", "increment"),
    "release.released.json": ("ignored", "only published releases count"),
    "workflow_run.completed.payload.json": ("mapped", "increment"),
    "workflow_run.completed.with-pull-requests.payload.json": ("mapped", "increment"),
}


async def own(store: PostgresEventStore, *repositories: str) -> None:
    await services.form_team(store, slug="delivery", name="Delivery")
    for repository in repositories:
        await services.own_repository(store, "delivery", repository=repository)


def _summary(delivery: dict[str, Any]) -> str:
    return f"{delivery['reason']} {delivery['outcome']}"


async def test_every_example_payload_is_recorded_linked_or_ignored_with_a_reason(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    if not GITHUB_FIXTURES.is_dir():
        pytest.skip(f"GitHub example payloads not found at {GITHUB_FIXTURES}")
    files = sorted(p for p in GITHUB_FIXTURES.glob("*.json"))
    assert {p.name for p in files} == set(EXPECTED), "a new example payload needs an expectation"
    # The delivery team owns the repositories; one integration verifies them, counts the
    # "test" workflow and published releases as deployments.
    await own(event_store, *REPOSITORIES)
    await integrate(
        api,
        "github",
        REPOSITORIES,
        deployment_workflows=["test"],
        releases_are_deployments=True,
    )
    # Every payload is posted as GitHub would: signed, with its event name.
    delivered: dict[int, str] = {}
    for path in files:
        body = path.read_bytes()
        event = path.name.split(".", 1)[0]
        answer = await api.post(
            "/webhooks/github", content=body, headers=github_headers(body, event)
        )
        assert answer.status_code == (200 if event == "ping" else 202), answer.text
        delivered[answer.json()["delivery"]] = path.name
    # Each is kept and comes to what its kind means, saying why.
    by_name = {delivered[d["id"]]: d for d in await settled(api, len(files))}
    for name, (state, said) in EXPECTED.items():
        assert by_name[name]["state"] == state, (name, by_name[name])
        assert said in _summary(by_name[name]), (name, by_name[name])
    # Redelivered facts (same deployment status, same workflow run and attempt) are one
    # increment each: three increments in all (deployment, release, workflow run).
    increments = {
        d["outcome"]["increment"] for d in by_name.values() if "increment" in (d["outcome"] or {})
    }
    assert len(increments) == 3
    deployment = await services.get_increment(
        event_store, uuid.UUID(by_name["deployment_status.payload.json"]["outcome"]["increment"])
    )
    assert deployment.service == "codertocat/hello-world"
    assert deployment.commit_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert deployment.status == "succeeded"
    release = await services.get_increment(
        event_store, uuid.UUID(by_name["release.published.payload.json"]["outcome"]["increment"])
    )
    assert release.release_version == "0.0.1"


def _push(after: str, before: str, commits: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": before,
        "after": after,
        "deleted": False,
        "repository": {"full_name": "acme/billing"},
        "commits": [
            {"id": sha, "timestamp": "2024-05-01T09:00:00+02:00", "message": message}
            for sha, message in commits
        ],
        "head_commit": {"id": after, "timestamp": "2024-05-01T09:00:00+02:00"},
    }


def _deployment_status(status_id: int, sha: str, state: str) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {
            "id": status_id,
            "state": state,
            "environment": "production",
            "created_at": "2024-05-01T10:05:00Z",
            "updated_at": "2024-05-01T10:05:00Z",
        },
        "deployment": {
            "id": 77,
            "sha": sha,
            "ref": "main",
            "environment": "production",
            "created_at": "2024-05-01T10:00:00Z",
        },
        "repository": {"full_name": "acme/billing"},
    }


async def post(api: httpx.AsyncClient, event: str, payload: dict[str, Any]) -> None:
    body = encode(payload)
    answer = await api.post("/webhooks/github", content=body, headers=github_headers(body, event))
    assert answer.status_code == 202, answer.text


async def test_a_deployment_carries_pushed_commits_and_ships_what_they_reference(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    a, b, m = "a" * 40, "b" * 40, "c" * 40
    await own(event_store, "acme/billing")
    await integrate(api, "github", ["acme/billing"])
    # Customers told us two things.
    first = (await api.post("/api/feedback", json={"text": "CSV export", "channel": "chat"})).json()
    second = (
        await api.post("/api/feedback", json={"text": "PDF export", "channel": "chat"})
    ).json()
    # Two pushes: a commit that fixes the first, then a merge commit.
    await post(api, "push", _push(a, "0" * 40, [(a, f"Fix CSV export ({first['key']})")]))
    await post(api, "push", _push(m, a, [(b, "Tidy"), (m, "Merge pull request #9")]))
    # The merged pull request's branch names the second.
    await post(
        api,
        "pull_request",
        {
            "action": "closed",
            "number": 9,
            "pull_request": {
                "number": 9,
                "merged": True,
                "merge_commit_sha": m,
                "title": "PDF export",
                "body": "",
                "head": {"ref": f"{second['key'].lower()}-pdf-export"},
            },
            "repository": {"full_name": "acme/billing"},
        },
    )
    # The deployment of the merge commit succeeds in production.
    await post(api, "deployment_status", _deployment_status(501, m, "success"))
    deliveries = await settled(api, 4)
    assert all(d["state"] == "mapped" for d in deliveries), deliveries
    deployed = next(d for d in deliveries if d["event"] == "deployment_status")
    increment = await services.get_increment(
        event_store, uuid.UUID(deployed["outcome"]["increment"])
    )
    # It carries every pushed commit, with its authored time, and both items shipped.
    assert sorted(c.sha for c in increment.commits) == [a, b, m]
    assert {c.authored_at.isoformat() for c in increment.commits} == {"2024-05-01T07:00:00+00:00"}
    assert set(deployed["outcome"]["feedback_refs"]) == {first["key"], second["key"]}
    for item in (first, second):
        assert (await services.get_feedback(event_store, item["key"])).status == "shipped"
    # Then the deployment reports a failure: the same increment is marked failed.
    await post(api, "deployment_status", _deployment_status(502, m, "failure"))
    deliveries = await settled(api, 5)
    failed = next(d for d in deliveries if d["outcome"] and d["outcome"].get("marked_failed"))
    assert failed["outcome"]["increment"] == deployed["outcome"]["increment"]
    assert (await services.get_increment(event_store, increment.id)).status == "failed"


async def test_an_unowned_repository_is_kept_and_listed(api: httpx.AsyncClient) -> None:
    await integrate(api, "github", ["acme/orphan"])
    payload = _deployment_status(601, "d" * 40, "success")
    payload["repository"] = {"full_name": "acme/orphan"}
    await post(api, "deployment_status", payload)
    [delivery] = await settled(api, 1)
    assert delivery["state"] == "ignored"
    assert delivery["reason"].startswith("unowned:")
    listed = await api.get("/api/webhooks/deliveries", params={"state": "ignored"})
    assert [d["id"] for d in listed.json()["items"]] == [delivery["id"]]


async def test_the_repository_is_read_from_any_shape_of_body_and_non_json_is_a_400(
    api: httpx.AsyncClient,
) -> None:
    # The receiver reads only the repository of a usual body; bodies of other shapes name
    # no repository and are verified against every GitHub integration, as before.
    await integrate(api, "github", ["acme/billing"])
    bodies = {
        "named": b'{"zen": "x", "repository": {"id": 1, "full_name": "ACME/Billing"}, "a": [{}]}',
        "null": b'{"repository": null}',
        "array": b'[{"repository": {"full_name": "acme/billing"}}]',
        "string": b'{"repository": "acme/billing"}',
        "number": b'{"repository": {"full_name": 7}}',
        "blank": b'{"repository": {"full_name": "  "}}',
        "absent": b'{"zen": "Keep it logically awesome."}',
    }
    for name, body in bodies.items():
        answer = await api.post(
            "/webhooks/github", content=body, headers=github_headers(body, "ping", name)
        )
        assert answer.status_code == 200, (name, answer.text)
    listed = (await api.get("/api/webhooks/deliveries", params={"limit": 500})).json()["items"]
    repositories = {d["delivery_id"]: d["repository"] for d in listed}
    assert repositories == {name: None for name in bodies} | {"named": "acme/billing"}
    # A repository no integration lists is not verified; a body that is not JSON is a 400.
    other = b'{"repository": {"full_name": "acme/other"}}'
    answer = await api.post(
        "/webhooks/github", content=other, headers=github_headers(other, "ping")
    )
    assert answer.status_code == 401, answer.text
    for broken in (b'{"repository": {"full_name": "acme/billing"}', b'{"a": [1, }', b"{} x"):
        answer = await api.post(
            "/webhooks/github", content=broken, headers=github_headers(broken, "ping")
        )
        assert answer.status_code == 400, (broken, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "not JSON" in answer.json()["detail"]
