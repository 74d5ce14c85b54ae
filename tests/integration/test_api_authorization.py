"""The authorization matrix: every mutating endpoint by every kind of caller.

Callers: admin, product, a member of the team the thing belongs to, a member of another
team, no token, a bad token. Each request acts on things prepared fresh for it by the
admin, so that an allowed request succeeds (2xx) rather than trip over an earlier one.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api_helpers import client, create_token, ok

ADMIN, PRODUCT, MEMBER, OTHER, NO_TOKEN, BAD_TOKEN = (
    "admin",
    "product",
    "member of the team",
    "member of another team",
    "no token",
    "bad token",
)
CALLERS = (ADMIN, PRODUCT, MEMBER, OTHER, NO_TOKEN, BAD_TOKEN)
EVERY_ROLE = {ADMIN, PRODUCT, MEMBER, OTHER}
TEAM_OR_MANAGERS = {ADMIN, PRODUCT, MEMBER}
MANAGERS = {ADMIN, PRODUCT}
ADMIN_ONLY = {ADMIN}

Request = tuple[str, str, dict[str, Any] | None]


@dataclass(frozen=True)
class Endpoint:
    name: str
    allowed: set[str]
    prepare: Callable[[], Awaitable[Request]]


class Fixtures:
    """Fresh things to act on, made by the admin; billing owns billing-api."""

    def __init__(self, admin: httpx.AsyncClient) -> None:
        self.admin = admin
        self.numbers = itertools.count(1)

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.numbers)}"

    async def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = ok(await self.admin.post(path, json=body))
        return answer

    async def feedback(self, *, triaged: bool = True) -> str:
        key: str = (await self.post("/api/feedback", {"text": "slow", "channel": "chat"}))["key"]
        if triaged:
            await self.post(f"/api/feedback/{key}/triage", {"team": "billing"})
        return key

    async def declined_feedback(self) -> str:
        key = await self.feedback()
        await self.post(f"/api/feedback/{key}/decline", {"reason": "not now"})
        return key

    async def decision(self, *, accepted: bool = False, feedback: tuple[str, ...] = ()) -> str:
        body = {"team": "billing", "title": "t", "rationale": "r", "feedback": list(feedback)}
        key: str = (await self.post("/api/decisions", body))["key"]
        if accepted:
            await self.post(f"/api/decisions/{key}/accept")
        return key

    async def incident(self) -> str:
        body = {"service": "billing-api", "title": "down"}
        incident_id: str = (await self.post("/api/incidents", body))["id"]
        return incident_id

    def increment(self) -> dict[str, Any]:
        sha = f"{next(self.numbers):012x}"
        return {"service": "billing-api", "environment": "production", "sha": sha}


def endpoints(f: Fixtures) -> list[Endpoint]:
    async def fixed(method: str, path: str, body: dict[str, Any] | None = None) -> Request:
        return method, path, body

    async def member_to_remove() -> Request:
        handle = f.unique("leaver")
        await f.post("/api/teams/billing/members", {"handle": handle})
        return "DELETE", f"/api/teams/billing/members/{handle}", None

    async def decision_action(action: str, body: dict[str, Any] | None = None) -> Request:
        key = await f.decision(accepted=action in ("start", "rank"))
        return "POST", f"/api/decisions/{key}/{action}", body

    async def supersede() -> Request:
        old, new = await f.decision(), await f.decision()
        return "POST", f"/api/decisions/{old}/supersede", {"by": new}

    async def link() -> Request:
        key, fb = await f.decision(), await f.feedback()
        return "POST", f"/api/decisions/{key}/feedback/{fb}", None

    async def unlink() -> Request:
        fb = await f.feedback()
        key = await f.decision(feedback=(fb,))
        return "DELETE", f"/api/decisions/{key}/feedback/{fb}", None

    async def feedback_action(
        action: str, body: dict[str, Any], *, declined: bool = False
    ) -> Request:
        key = await (f.declined_feedback() if declined else f.feedback())
        return "POST", f"/api/feedback/{key}/{action}", body

    async def triage() -> Request:
        key = await f.feedback(triaged=False)
        return "POST", f"/api/feedback/{key}/triage", {"team": "billing"}

    async def duplicate() -> Request:
        key, original = await f.feedback(), await f.feedback()
        return "POST", f"/api/feedback/{key}/duplicate", {"of": original}

    async def plan() -> Request:
        key, decision = await f.feedback(), await f.decision(accepted=True)
        return "POST", f"/api/feedback/{key}/plan", {"decision": decision}

    async def resolve() -> Request:
        return "POST", f"/api/incidents/{await f.incident()}/resolve", {}

    async def revoke() -> Request:
        created = await f.post("/api/tokens", {"name": f.unique("t"), "role": "product"})
        return "DELETE", f"/api/tokens/{created['id']}", None

    def team_body() -> dict[str, Any]:
        slug = f.unique("team")
        return {"slug": slug, "name": slug}

    return [
        Endpoint("form team", MANAGERS, lambda: fixed("POST", "/api/teams", team_body())),
        Endpoint(
            "add member",
            MANAGERS,
            lambda: fixed("POST", "/api/teams/billing/members", {"handle": f.unique("m")}),
        ),
        Endpoint("remove member", MANAGERS, member_to_remove),
        Endpoint(
            "own repository",
            MANAGERS,
            lambda: fixed(
                "POST", "/api/teams/billing/repositories", {"repository": f.unique("repo")}
            ),
        ),
        Endpoint(
            "define outcome",
            MANAGERS,
            lambda: fixed(
                "POST", "/api/outcomes", {"statement": "s", "measure": "m", "team": "billing"}
            ),
        ),
        Endpoint(
            "propose decision",
            MANAGERS,
            lambda: fixed(
                "POST", "/api/decisions", {"team": "billing", "title": "t", "rationale": "r"}
            ),
        ),
        Endpoint("accept decision", MANAGERS, lambda: decision_action("accept")),
        Endpoint(
            "decline decision", MANAGERS, lambda: decision_action("decline", {"rationale": "no"})
        ),
        Endpoint("supersede decision", MANAGERS, supersede),
        Endpoint("start decision", MANAGERS, lambda: decision_action("start")),
        Endpoint("rank decision", MANAGERS, lambda: decision_action("rank", {"position": 1})),
        Endpoint("link feedback", MANAGERS, link),
        Endpoint("unlink feedback", MANAGERS, unlink),
        Endpoint(
            "receive feedback",
            EVERY_ROLE,
            lambda: fixed("POST", "/api/feedback", {"text": "hi", "channel": "web"}),
        ),
        Endpoint("triage feedback", TEAM_OR_MANAGERS, triage),
        Endpoint("mark duplicate", TEAM_OR_MANAGERS, duplicate),
        Endpoint("plan feedback", TEAM_OR_MANAGERS, plan),
        Endpoint(
            "decline feedback",
            TEAM_OR_MANAGERS,
            lambda: feedback_action("decline", {"reason": "x"}),
        ),
        Endpoint(
            "defer feedback",
            TEAM_OR_MANAGERS,
            lambda: feedback_action("defer", {"until": "2030-01-01"}),
        ),
        Endpoint(
            "reopen feedback",
            TEAM_OR_MANAGERS,
            lambda: feedback_action("reopen", {"reason": "x"}, declined=True),
        ),
        Endpoint(
            "close the loop",
            TEAM_OR_MANAGERS,
            lambda: feedback_action("close-loop", {"how": "email"}, declined=True),
        ),
        Endpoint(
            "record increment",
            TEAM_OR_MANAGERS,
            lambda: fixed("POST", "/api/increments", f.increment()),
        ),
        Endpoint(
            "open incident",
            TEAM_OR_MANAGERS,
            lambda: fixed("POST", "/api/incidents", {"service": "billing-api", "title": "down"}),
        ),
        Endpoint("resolve incident", TEAM_OR_MANAGERS, resolve),
        Endpoint(
            "create token",
            ADMIN_ONLY,
            lambda: fixed("POST", "/api/tokens", {"name": f.unique("t"), "role": "product"}),
        ),
        Endpoint("revoke token", ADMIN_ONLY, revoke),
    ]


def expected(endpoint: Endpoint, caller: str) -> int | None:
    """401 or 403 for a refused caller; None for an allowed one (any 2xx)."""
    if caller in (NO_TOKEN, BAD_TOKEN):
        return 401
    return None if caller in endpoint.allowed else 403


async def test_every_mutating_endpoint_for_every_caller(
    api: httpx.AsyncClient, api_server: str
) -> None:
    # Two teams, each owning a service, and a token of each role.
    for slug in ("billing", "support"):
        ok(await api.post("/api/teams", json={"slug": slug, "name": slug.title()}))
        ok(await api.post(f"/api/teams/{slug}/repositories", json={"repository": f"{slug}-api"}))
    tokens = {
        ADMIN: await create_token(api, "admin", name="second-admin"),
        PRODUCT: await create_token(api, "product"),
        MEMBER: await create_token(api, "member", "billing"),
        OTHER: await create_token(api, "member", "support"),
        NO_TOKEN: None,
        BAD_TOKEN: "ll_this-token-was-never-issued",
    }
    fixtures = Fixtures(api)
    clients = {caller: client(api_server, token) for caller, token in tokens.items()}
    wrong: list[str] = []
    try:
        # Every endpoint, asked by every caller, on things made fresh for the request.
        for endpoint in endpoints(fixtures):
            prepared: Request | None = None
            for caller in CALLERS:
                # A refused request changes nothing, so the next caller may try the same.
                method, path, body = prepared = prepared or await endpoint.prepare()
                response = await clients[caller].request(method, path, json=body)
                if response.is_success:
                    prepared = None
                want = expected(endpoint, caller)
                got = response.status_code
                if (want is None and not response.is_success) or (want is not None and got != want):
                    wrong.append(
                        f"{endpoint.name} as {caller}: {got} (wanted {want or '2xx'}) "
                        f"{response.text[:200]}"
                    )
                if want is not None:
                    assert response.headers["content-type"].startswith("application/problem+json")
    finally:
        for c in clients.values():
            await c.aclose()
    assert not wrong, "\n".join(wrong)


async def test_a_member_reports_only_its_teams_services(
    api: httpx.AsyncClient, api_server: str
) -> None:
    # Billing owns billing-api; nobody owns new-api yet.
    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    ok(await api.post("/api/teams", json={"slug": "support", "name": "Support"}))
    ok(await api.post("/api/teams/billing/repositories", json={"repository": "billing-api"}))
    member = client(api_server, await create_token(api, "member", "billing"))
    deploy = {"environment": "production", "sha": "abcdef1234"}
    async with member:
        # An unowned service without a team: the member must say which team ships it.
        unowned = await member.post("/api/increments", json={"service": "new-api", **deploy})
        assert unowned.status_code == 403
        # Naming another team is refused; naming its own makes its team the owner.
        theirs = await member.post(
            "/api/increments", json={"service": "new-api", "team": "support", **deploy}
        )
        assert theirs.status_code == 403
        claimed = await member.post(
            "/api/increments", json={"service": "new-api", "team": "billing", **deploy}
        )
        assert claimed.status_code == 201, claimed.text
        team = ok(await api.get("/api/teams/billing", params={"after": claimed.json()["position"]}))
        assert "new-api" in team["repositories"]
    # A team that does not own the service cannot be named for it: 409 naming the owner.
    clash = await api.post(
        "/api/increments", json={"service": "billing-api", "team": "support", **deploy}
    )
    assert clash.status_code == 409
    assert "billing" in clash.json()["detail"]
