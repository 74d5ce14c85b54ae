"""Integrations the API keeps in memory follow every change at once, whoever makes it."""

from __future__ import annotations

import asyncio

import httpx

from tests.processes import loopline_env, run_loopline
from tests.webhook_senders import encode, github_headers, integrate

PING = {"zen": "Keep it logically awesome.", "repository": {"full_name": "acme/billing"}}


async def _deliver(api: httpx.AsyncClient) -> int:
    body = encode(PING)
    answer = await api.post("/webhooks/github", content=body, headers=github_headers(body, "ping"))
    return answer.status_code


async def _until(api: httpx.AsyncClient, status: int) -> int:
    for _ in range(100):
        if (found := await _deliver(api)) == status:
            return found
        await asyncio.sleep(0.02)
    return found


async def test_an_integration_removed_elsewhere_stops_verifying_and_a_new_one_starts(
    api: httpx.AsyncClient, database_url: str
) -> None:
    # Unknown repository: 401, twice (the refusal is not remembered either).
    assert await _deliver(api) == 401
    assert await _deliver(api) == 401
    integration = await integrate(api, "github", ["acme/billing"])
    assert await _until(api, 200) == 200
    assert await _deliver(api) == 200
    # Removed by the CLI, in another process: this server refuses its deliveries now.
    removed = await asyncio.to_thread(
        run_loopline,
        "integration",
        "remove",
        integration,
        env=loopline_env(DATABASE_URL=database_url),
    )
    assert removed.returncode == 0, removed.stderr
    assert await _until(api, 401) == 401
