"""Hostile requests: each is refused with a 4xx problem+json and stores nothing; SQL
metacharacters are data, never code; no token, a forged one or the wrong role opens
nothing, on every operation the OpenAPI schema lists."""

from __future__ import annotations

import asyncio
import json
import random
import re
import string
from typing import Any

import asyncpg
import httpx
import pytest

from tests.api_helpers import client, create_token
from tests.reliability.harness import record
from tests.served import openapi

pytestmark = pytest.mark.reliability

MiB = 1024 * 1024


async def store_state(pool: asyncpg.Pool) -> tuple[int, int, int]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT coalesce(max(notification_id), 0) FROM stored_events) AS head, "
            "(SELECT count(*) FROM webhook_deliveries) AS deliveries, "
            "(SELECT count(*) FROM api_tokens) AS tokens"
        )
    assert row is not None
    return row["head"], row["deliveries"], row["tokens"]


def feedback(**fields: Any) -> bytes:
    return json.dumps({"text": "fine", "channel": "chat", **fields}).encode()


JSON = {"content-type": "application/json"}

HOSTILE: list[tuple[str, bytes, dict[str, str]]] = [
    ("oversized body", b'{"text": "' + b"x" * (12 * MiB) + b'", "channel": "chat"}', JSON),
    ("deeply nested JSON", b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", JSON),
    ("deeply nested objects", b'{"a":' * 5000 + b"1" + b"}" * 5000, JSON),
    ("invalid UTF-8", b'{"text": "\xff\xfe\xc3\x28", "channel": "chat"}', JSON),
    ("lone surrogate", b'{"text": "\\ud800", "channel": "chat"}', JSON),
    ("huge string", feedback(text="x" * (2 * MiB)), JSON),
    ("NUL byte", feedback(text="before\u0000after"), JSON),
    ("NUL in the channel", feedback(channel="chat\u0000"), JSON),
    ("SQL in the channel", feedback(channel="chat'; DROP TABLE stored_events; --"), JSON),
    ("year 9999", feedback(received_at="9999-12-31T23:59:59Z"), JSON),
    ("year 1", feedback(received_at="0001-01-01T00:00:00Z"), JSON),
    ("month 13", feedback(received_at="2024-13-45T99:99:99Z"), JSON),
    ("no time zone", feedback(received_at="2024-05-01T10:00:00"), JSON),
    ("epoch number", feedback(received_at=1e20), JSON),
    ("not a time", feedback(received_at="yesterday"), JSON),
    ("NaN score", b'{"text": "x", "channel": "chat", "nps": NaN}', JSON),
    ("huge score", b'{"text": "x", "channel": "chat", "nps": 1' + b"0" * 400 + b"}", JSON),
    ("not JSON", b"text=hello&channel=chat", JSON),
    ("empty body", b"", JSON),
    ("JSON array", b"[]", JSON),
    ("text/plain", feedback(), {"content-type": "text/plain"}),
    ("XML", b"<feedback><text>x</text></feedback>", {"content-type": "application/xml"}),
    ("form", b"text=x&channel=chat", {"content-type": "application/x-www-form-urlencoded"}),
    ("multipart", b"--b\r\n\r\nx\r\n--b--", {"content-type": "multipart/form-data; boundary=b"}),
]


async def test_hostile_bodies_are_4xx_problems_and_store_nothing(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    before = await store_state(pool)
    answers = {}
    for name, body, headers in HOSTILE:
        answer = await api.post("/api/feedback", content=body, headers=headers)
        answers[name] = answer.status_code
        assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.text[:300])
        assert answer.headers["content-type"].startswith("application/problem+json"), name
    # The same on a path with a key and on a webhook receiver.
    for path in ("/api/feedback/FB-1/triage", "/api/teams"):
        for name, body, headers in HOSTILE:
            answer = await api.post(path, content=body, headers=headers)
            assert 400 <= answer.status_code < 500, (path, name, answer.text[:300])
            assert answer.headers["content-type"].startswith("application/problem+json")
    assert await store_state(pool) == before
    record(
        "hostile_bodies",
        requests_refused=len(HOSTILE) * 3,
        statuses=sorted(set(answers.values())),
        stored=0,
    )


SQL = [
    "'; DROP TABLE stored_events; --",
    '" OR 1=1 --',
    "x'); DELETE FROM api_tokens; --",
    "%' AND pg_sleep(5) IS NULL --",
    "$1 $$ $body$ \\' E'\\x00'",
]


async def test_sql_metacharacters_are_data(api: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    # A fresh instance builds its read models first (meanwhile queries answer 503).
    for _ in range(100):
        if (await api.get("/readyz")).status_code == 200:
            break
        await asyncio.sleep(0.1)
    for text in SQL:
        # As a key, a search and a filter: a clean 4xx or an empty answer, never a 5xx.
        for path, params in (
            (f"/api/feedback/{text}", {}),
            ("/api/feedback", {"q": text}),
            ("/api/feedback", {"team": text}),
            ("/api/feedback", {"cursor": text}),
            (f"/api/teams/{text}", {}),
        ):
            answer = await api.get(path, params=params)
            assert answer.status_code < 500, (path, params, answer.text)
            if answer.status_code >= 400:
                assert answer.headers["content-type"].startswith("application/problem+json")
        # As feedback text: stored verbatim, read back verbatim.
        written = await api.post("/api/feedback", json={"text": text, "channel": "chat"})
        assert written.status_code == 201, written.text
        read = await api.get(f"/api/feedback/{written.json()['key']}")
        assert read.json()["item"]["text"] == text
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM api_tokens") >= 1
        assert await conn.fetchval("SELECT count(*) FROM stored_events") > 0


PUBLIC = re.compile(r"^/(healthz|readyz|metrics|schema)|^/webhooks/")
ADMINS_ONLY = re.compile(r"^/api/tokens")
MANAGERS_ONLY = re.compile(r"^/api/(integrations|webhooks|notifications)")


def operations() -> list[tuple[str, str]]:
    document = openapi()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            concrete = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    integer = parameter.get("schema", {}).get("type") == "integer"
                    value = "1" if integer else "00000000-0000-0000-0000-000000000001"
                    concrete = concrete.replace("{" + parameter["name"] + "}", value)
            found.append((method.upper(), concrete))
    return found


def forged_tokens(rng: random.Random) -> list[dict[str, str]]:
    def noise(n: int) -> str:
        return "".join(rng.choice(string.ascii_letters + string.digits + "_-") for _ in range(n))

    return [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {noise(40)}"},
        {"Authorization": f"Bearer ll_{noise(43)}"},
        {"Authorization": f"Bearer ll_{noise(4000)}"},
        {"Authorization": f"Basic {noise(20)}"},
        {"Authorization": f"bearer ll_{noise(43)}"},
        {"Authorization": "Bearer ll_test-admin-token-not-a-secre"},
        {"Authorization": "Bearer ll_test-admin-token-not-a-secretx"},
    ]


async def test_no_access_without_a_valid_token_or_the_right_role(
    api: httpx.AsyncClient, api_server: str, pool: asyncpg.Pool
) -> None:
    await api.post("/api/teams", json={"slug": "alpha", "name": "Alpha"})
    member = await create_token(api, "member", "alpha")
    product = await create_token(api, "product")
    rng = random.Random(401)
    before = await store_state(pool)
    tried = 0
    async with httpx.AsyncClient(base_url=api_server, timeout=30) as anonymous:
        for method, path in operations():
            if PUBLIC.match(path):
                continue
            # No token, a malformed or forged one: 401, whatever the operation.
            for headers in forged_tokens(rng):
                answer = await anonymous.request(method, path, headers=headers, json={})
                tried += 1
                assert answer.status_code == 401, (method, path, headers, answer.status_code)
                assert answer.headers["content-type"].startswith("application/problem+json")
            # Tokens are for admins, integrations and deliveries for admins and product
            # managers: anyone else gets 403.
            refused = [member, product] if ADMINS_ONLY.match(path) else []
            refused += [member] if MANAGERS_ONLY.match(path) else []
            if refused:
                for token in refused:
                    async with client(api_server, token) as someone:
                        answer = await someone.request(method, path, json={})
                    tried += 1
                    assert answer.status_code == 403, (method, path, answer.status_code)
    assert await store_state(pool) == before
    record("forged_tokens", requests_refused=tried, operations=len(operations()), stored=0)
