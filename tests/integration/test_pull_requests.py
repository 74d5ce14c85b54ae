"""Pull-request lead time from GitHub's and GitLab's real payload shapes: a merged change's
four spans (coding, review, deploy, total), worked out by hand, over HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.api_helpers import ok
from tests.integration.test_rollbacks import (
    T,
    fixture,
    github_deployment,
    github_push,
    gitlab_deployment,
    gitlab_push,
    iso,
)
from tests.webhook_senders import (
    GITHUB_FIXTURES,
    GITLAB_FIXTURES,
    encode,
    github_headers,
    gitlab_headers,
    integrate,
    settled,
)

H = 3600.0
BASE, FIRST, HEAD, MERGE = "1" * 40, "2" * 40, "3" * 40, "4" * 40


async def changes(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    # Once the read models hold every event written so far (webhooks are mapped in the
    # background, so no write answered a position to wait for): read-your-writes on the head.
    head = ok(await api.get("/readyz"))["head"]
    window = {"from": iso(T - timedelta(days=7)), "to": iso(T + timedelta(days=7))}
    answer: dict[str, Any] = ok(
        await api.get("/api/metrics/changes", params={**window, "after": head, **params})
    )
    return answer


async def test_a_github_pull_request_in_four_spans(api: httpx.AsyncClient) -> None:
    repository = "Codertocat/Hello-World"
    ok(await api.post("/api/teams", json={"slug": "hello", "name": "Hello"}))
    ok(await api.post("/api/teams/hello/repositories", json={"repository": repository}))
    await integrate(api, "github", [repository])
    # The real "closed" example, merged: opened T-1d+2h, merged at T.
    pull = fixture(GITHUB_FIXTURES, "pull_request.closed.payload.json")
    pull["pull_request"].update(
        merged=True,
        merged_at=iso(T),
        created_at=iso(T - timedelta(days=1) + timedelta(hours=2)),
        merge_commit_sha=MERGE,
    )
    pull["pull_request"]["head"]["sha"] = HEAD
    pull["pull_request"]["base"]["sha"] = BASE
    deliveries = [
        # The branch: its first commit authored T-2d, its second T-1d.
        ("push", github_push(BASE, FIRST, T - timedelta(days=2))),
        ("push", github_push(FIRST, HEAD, T - timedelta(days=1))),
        ("pull_request", pull),
        # The merge lands on the main branch and goes to production 3 hours later.
        ("push", github_push(BASE, MERGE, T)),
        ("deployment_status", github_deployment(1, MERGE, T + timedelta(hours=3))),
    ]
    for n, (event, payload) in enumerate(deliveries, start=1):
        raw = encode(payload)
        answer = await api.post("/webhooks/github", content=raw, headers=github_headers(raw, event))
        assert answer.status_code == 202, answer.text
        await settled(api, n)
    mapped = {d["event"]: d for d in await settled(api, len(deliveries))}
    assert "pull_request" in mapped["pull_request"]["outcome"], mapped["pull_request"]

    [group] = (await changes(api, team="hello"))["groups"]
    assert group["pull_requests"] == 1
    # Coding: first commit (T-2d) to opened (T-1d+2h) = 26h; review: opened to merged = 22h;
    # deploy: merged to production = 3h; total: first commit to production = 51h.
    assert group["coding"]["p50"] == 26 * H
    assert group["review"]["p50"] == 22 * H
    assert group["deploy"]["p50"] == 3 * H
    assert group["total"]["p50"] == 51 * H
    # The merge commit itself counts by commit, as DORA does: authored T, deployed T+3h.
    assert (group["commits"]["count"], group["commits"]["p50"]) == (1, 3 * H)
    # Per service: the one service, named.
    [by_service] = (await changes(api, group_by="service"))["groups"]
    assert by_service["group"] == {"service": "codertocat/hello-world"}
    # Outside the window (deployed before it): nothing, with null figures.
    empty = ok(
        await api.get(
            "/api/metrics/changes",
            params={"from": iso(T + timedelta(days=1)), "to": iso(T + timedelta(days=2))},
        )
    )
    assert empty["groups"][0]["pull_requests"] == 0
    assert empty["groups"][0]["total"]["p50"] is None


async def test_a_gitlab_merge_request_in_four_spans(api: httpx.AsyncClient) -> None:
    merge_request = fixture(GITLAB_FIXTURES, "merge_request.json")
    repository = merge_request["project"]["path_with_namespace"]
    ok(await api.post("/api/teams", json={"slug": "lab", "name": "Lab"}))
    ok(await api.post("/api/teams/lab/repositories", json={"repository": repository}))
    await integrate(api, "gitlab", [repository])
    # The real example, merged: opened T-5h, merged (the hook's update time) T-1h.
    attributes = merge_request["object_attributes"]
    attributes.update(
        action="merge",
        state="merged",
        merge_commit_sha=MERGE,
        created_at=iso(T - timedelta(hours=5)),
        updated_at=iso(T - timedelta(hours=1)),
    )
    attributes["last_commit"].update(id=HEAD, timestamp=iso(T - timedelta(hours=8)))
    branch = gitlab_push("0" * 40, HEAD, T - timedelta(hours=10))
    deployment = gitlab_deployment(7, MERGE, T)
    for payload in (branch, deployment):
        payload["project"]["path_with_namespace"] = repository
    deliveries = [
        ("Push Hook", branch),
        ("Merge Request Hook", merge_request),
        ("Deployment Hook", deployment),
    ]
    for n, (event, payload) in enumerate(deliveries, start=1):
        answer = await api.post(
            "/webhooks/gitlab", content=encode(payload), headers=gitlab_headers(event)
        )
        assert answer.status_code == 202, answer.text
        await settled(api, n)

    [group] = (await changes(api, service=repository.lower()))["groups"]
    # Coding: the branch's first commit (T-10h) to opened (T-5h) = 5h; review 4h; deploy:
    # merged (T-1h) to the deployment of the merge commit (T) = 1h; total 10h.
    assert group["pull_requests"] == 1
    assert [group[span]["p50"] for span in ("coding", "review", "deploy", "total")] == [
        5 * H,
        4 * H,
        1 * H,
        10 * H,
    ]
