"""Signing and posting webhook deliveries the way GitHub, GitLab and Standard Webhooks do."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from server.webhooks.verify import standard_signature


def shared_fixtures(kind: str) -> Path:
    """`shared/fixtures/<kind>` beside the project root, or beside any folder above it (a
    git worktree under `wt/<name>` finds the same folder as the main checkout)."""
    root = Path(__file__).resolve().parents[1]
    for folder in (root, *root.parents):
        found = folder.parent / "shared" / "fixtures" / kind
        if found.is_dir():
            return found
    return root.parent / "shared" / "fixtures" / kind


GITHUB_FIXTURES = shared_fixtures("github")
GITLAB_FIXTURES = shared_fixtures("gitlab")
SECRET = "test-webhook-secret-not-a-real-one"


def github_headers(body: bytes, event: str, delivery: str | None = None) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-hub-signature-256": f"sha256={digest}",
    }


def gitlab_headers(event: str, token: str = SECRET, key: str | None = None) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-gitlab-event": event,
        "x-gitlab-token": token,
        "idempotency-key": key or str(uuid.uuid4()),
    }


def generic_headers(
    body: bytes, *, message_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(SECRET, message_id, timestamp, body),
    }


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


async def integrate(
    api: httpx.AsyncClient, source: str, repositories: list[str], **extra: Any
) -> str:
    answer = await api.post(
        "/api/integrations",
        json={"source": source, "secret": SECRET, "repositories": repositories, **extra},
    )
    assert answer.status_code == 201, answer.text
    integration_id: str = answer.json()["id"]
    return integration_id


async def settled(
    api: httpx.AsyncClient, count: int, *, within: float = 20.0
) -> list[dict[str, Any]]:
    """The stored deliveries once `count` exist and none is pending (newest first), and
    the read models have applied what mapping them recorded (no projection lags)."""
    deadline = time.monotonic() + within
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        answer = await api.get("/api/webhooks/deliveries", params={"limit": 500})
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        if len(items) >= count and all(i["state"] != "pending" for i in items):
            ready = (await api.get("/readyz")).json()
            if all(p["lag"] == 0 for p in ready.get("projections", [])):
                return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries did not settle: {items}")
