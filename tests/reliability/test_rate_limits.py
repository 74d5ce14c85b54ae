"""Rate limits: webhook receivers per client address, failed authentication per address
and per token; past a limit a 429 problem with Retry-After, before any database read."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import httpx
import pytest

from infra.settings import Settings, load_settings
from server.ratelimit import RateLimiter
from tests.conftest import api_settings
from tests.reliability.harness import record
from tests.webhook_senders import generic_headers, integrate

pytestmark = pytest.mark.reliability

WEBHOOKS_PER_MINUTE = 20
FAILED_AUTH_PER_MINUTE = 5


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        {},
        **{
            **api_settings(database_url, tmp_path / "data"),
            "rate_limit_webhooks": WEBHOOKS_PER_MINUTE,
            "rate_limit_failed_auth": FAILED_AUTH_PER_MINUTE,
        },
    )


def limited(answer: httpx.Response) -> bool:
    if answer.status_code != 429:
        return False
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    return True


async def reads_of_tokens(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        count = await conn.fetchval(
            "SELECT coalesce(sum(idx_scan + seq_scan), 0) FROM pg_stat_user_tables"
            " WHERE relname = 'api_tokens'"
        )
    return int(count)


async def test_webhook_receivers_are_limited_per_client_address(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await integrate(api, "generic", ["acme/svc-a"])
    body = json.dumps({"type": "heartbeat", "service": "acme/svc-a"}).encode()
    answers = [
        await api.post("/webhooks/generic", content=body, headers=generic_headers(body))
        for _ in range(WEBHOOKS_PER_MINUTE + 10)
    ]
    statuses = [a.status_code for a in answers]
    assert statuses[:WEBHOOKS_PER_MINUTE] == [202] * WEBHOOKS_PER_MINUTE, statuses
    assert all(limited(a) for a in answers[WEBHOOKS_PER_MINUTE:]), statuses
    # Refused deliveries are not stored; past the limit even an unsigned one is refused
    # before its signature is looked at.
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM webhook_deliveries") == 20
    forged = await api.post("/webhooks/github", content=b"{}", headers={"x-github-event": "ping"})
    assert limited(forged)
    # The API itself (token-authenticated) is not limited by it.
    assert (await api.get("/api/teams")).status_code == 200
    record("rate_limit_webhooks", per_minute=WEBHOOKS_PER_MINUTE, refused=statuses.count(429))


async def test_failed_authentication_is_limited_per_address_and_per_token(
    api_server: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    # A good token is known to this process before the attack starts.
    assert (await api.get("/api/teams")).status_code == 200
    async with httpx.AsyncClient(base_url=api_server, timeout=30) as stranger:
        before = await reads_of_tokens(pool)
        answers = [
            await stranger.get("/api/teams", headers={"Authorization": f"Bearer ll_guess-{n}"})
            for n in range(FAILED_AUTH_PER_MINUTE + 20)
        ]
        reads = await reads_of_tokens(pool) - before
    statuses = [a.status_code for a in answers]
    assert statuses[:FAILED_AUTH_PER_MINUTE] == [401] * FAILED_AUTH_PER_MINUTE, statuses
    assert all(limited(a) for a in answers[FAILED_AUTH_PER_MINUTE:]), statuses
    # Refused guesses cost no database read: only the first few were looked up. (Table
    # statistics are flushed late: the admin token's own first lookup may land in this count.)
    assert reads <= FAILED_AUTH_PER_MINUTE + 1, reads
    # A token this process knows still works from the same address.
    assert (await api.get("/api/teams")).status_code == 200
    record(
        "rate_limit_failed_auth",
        per_minute=FAILED_AUTH_PER_MINUTE,
        guesses=len(answers),
        refused=statuses.count(429),
        token_reads=reads,
    )


def test_one_token_is_limited_wherever_it_comes_from() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    # The same forged token from three addresses: its own count stops it.
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert limiter.blocked(("address", address)) is None
        assert limiter.blocked(("token", "same")) is None
        limiter.hit(("address", address))
        limiter.hit(("token", "same"))
    assert limiter.blocked(("token", "same")) == 60
    assert limiter.blocked(("address", "10.0.0.4")) is None
    # The next window starts afresh.
    now[0] = 45.5
    assert limiter.blocked(("token", "same")) == 15
    now[0] = 60.0
    assert limiter.blocked(("token", "same")) is None


def test_no_limit_when_set_to_zero() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.hit("x") is None for _ in range(1000))
    assert limiter.blocked("x") is None
