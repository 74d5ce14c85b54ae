"""Small helpers for API tests: tokens of each role and clients that use them."""

from __future__ import annotations

from typing import Any

import httpx

from infra.tokens import Role


def ok(response: httpx.Response) -> Any:
    """The JSON of a successful answer (fails the test with the body otherwise)."""
    assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def create_token(
    admin: httpx.AsyncClient, role: Role, *teams: str, name: str | None = None
) -> str:
    """A new API token of `role` (for `teams`), created over HTTP by an admin."""
    created = await admin.post(
        "/api/tokens",
        json={"name": name or f"{role}-{'-'.join(teams)}", "role": role, "teams": list(teams)},
    )
    token: str = ok(created)["token"]
    return token


# The servers under test answer plain HTTP on loopback, so their clients need no certificate
# authorities: loading the system's bundle costs each new httpx client about 40 ms (7 ms
# without), and the fixtures make several clients a test.
VERIFY_LOOPBACK = False


def client(base_url: str, token: str | None) -> httpx.AsyncClient:
    """An HTTP client of the API that sends `token` (none when None)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30, verify=VERIFY_LOOPBACK)
