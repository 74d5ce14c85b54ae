"""API tokens over HTTP: shown once, listed without the secret, revoked for good."""

from __future__ import annotations

import asyncio

import httpx

from tests.api_helpers import client, ok
from tests.processes import loopline_env, one_error_line, run_loopline


async def test_a_token_is_shown_once_listed_without_secret_and_revoked(
    api: httpx.AsyncClient, api_server: str
) -> None:
    # A team exists for the member token.
    team = await api.post("/api/teams", json={"slug": "billing", "name": "Billing"})
    assert team.status_code == 201, team.text
    # The admin creates a member token for it; the answer carries the token once.
    created = await api.post(
        "/api/tokens", json={"name": "ci-billing", "role": "member", "teams": ["billing"]}
    )
    assert created.status_code == 201, created.text
    token = created.json()
    assert token["token"].startswith("ll_")
    assert token["team_ids"] == [team.json()["id"]]
    # The list names it, but never the secret nor its hash.
    listed = await api.get("/api/tokens")
    assert listed.status_code == 200
    entry = next(t for t in listed.json() if t["id"] == token["id"])
    assert entry["name"] == "ci-billing"
    assert entry["role"] == "member"
    assert token["token"] not in listed.text
    assert not {"token", "token_hash", "hash"} & set(entry)
    # The token works until it is revoked; then it is a 401.
    async with httpx.AsyncClient(
        base_url=api_server, headers={"Authorization": f"Bearer {token['token']}"}
    ) as member:
        assert (await member.get("/api/teams")).status_code == 200
        # A member may not manage tokens.
        assert (await member.get("/api/tokens")).status_code == 403
        revoked = await api.delete(f"/api/tokens/{token['id']}")
        assert revoked.status_code == 204, revoked.text
        after = await member.get("/api/teams")
        assert after.status_code == 401
        assert after.headers["content-type"].startswith("application/problem+json")
    # Revoking again: there is no live token with that id.
    assert (await api.delete(f"/api/tokens/{token['id']}")).status_code == 404
    listed_again = (await api.get("/api/tokens")).json()
    assert next(t for t in listed_again if t["id"] == token["id"])["revoked_at"] is not None


async def test_token_requests_are_checked(api: httpx.AsyncClient) -> None:
    # An unknown role is a 400 naming the field.
    role = await api.post("/api/tokens", json={"name": "x", "role": "owner"})
    assert role.status_code == 400
    assert "role" in role.text
    # A member token needs its teams; only member tokens name teams.
    bare = await api.post("/api/tokens", json={"name": "x", "role": "member"})
    assert bare.status_code == 400
    assert bare.json()["field"] == "teams"
    # A team that does not exist is not found.
    ghost = await api.post("/api/tokens", json={"name": "x", "role": "member", "teams": ["ghost"]})
    assert ghost.status_code == 404


async def test_the_cli_creates_lists_and_revokes_tokens(
    api: httpx.AsyncClient, api_server: str, database_url: str
) -> None:
    env = loopline_env(DATABASE_URL=database_url)
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    # `token create` prints the token alone on stdout, for scripts.
    created = await asyncio.to_thread(
        run_loopline,
        "token",
        "create",
        "--name",
        "cli-member",
        "--role",
        "member",
        "--team",
        "billing",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("ll_")
    async with client(api_server, token) as member:
        assert (await member.get("/api/teams")).status_code == 200
        assert (await member.get("/api/tokens")).status_code == 403
        # `token list` names it with its team, never the secret.
        listed = await asyncio.to_thread(run_loopline, "token", "list", env=env)
        assert listed.returncode == 0, listed.stderr
        assert token not in listed.stdout
        [line] = [row for row in listed.stdout.splitlines() if "cli-member" in row]
        assert "member" in line
        assert "teams=billing" in line
        # `token revoke` ends it: the API answers 401.
        revoked = await asyncio.to_thread(run_loopline, "token", "revoke", line.split()[0], env=env)
        assert revoked.returncode == 0, revoked.stderr
        assert (await member.get("/api/teams")).status_code == 401
    # An unknown team is one error line.
    ghost = await asyncio.to_thread(
        run_loopline,
        "token",
        "create",
        "--name",
        "x",
        "--role",
        "member",
        "--team",
        "ghosts",
        env=env,
    )
    assert ghost.returncode == 1
    assert "ghosts" in one_error_line(ghost.stderr)
