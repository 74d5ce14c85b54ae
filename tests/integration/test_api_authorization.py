"""The authorization matrix: every row of the "who may do what" table in docs/api.md, walked
over HTTP by every kind of caller.

Callers: admin, product, a member of the team the thing belongs to, a member of another
team, no token, a bad token. Who is allowed comes from the table itself, so the docs and the
server cannot drift apart. Each request acts on things prepared fresh for it by the admin, so
that an allowed request succeeds (2xx) rather than trip over an earlier one.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from infra.eventstore import PostgresEventStore
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
TABLE = Path(__file__).parents[2] / "docs" / "api.md"

Request = tuple[str, str, dict[str, Any] | None]


@dataclass(frozen=True)
class Endpoint:
    name: str
    prepare: Callable[[], Awaitable[Request]]


def documented_rules() -> dict[str, set[str]]:
    """Each row of the "who may do what" table in docs/api.md: action → the callers allowed."""
    rules: dict[str, set[str]] = {}
    lines = TABLE.read_text().split("## Who may do what", 1)[1].splitlines()
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or cells[0] in ("action", "---"):
            continue
        answers = dict(zip((ADMIN, PRODUCT, MEMBER, OTHER), cells[2:], strict=True))
        assert set(answers.values()) <= {"yes", "no"}, line
        rules[cells[0]] = {caller for caller, answer in answers.items() if answer == "yes"}
    return rules


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

    async def feedback(self, *, triaged: bool = True, team: str = "billing") -> str:
        key: str = (await self.post("/api/feedback", {"text": "slow", "channel": "chat"}))["key"]
        if triaged:
            await self.post(f"/api/feedback/{key}/triage", {"team": team})
        return key

    async def declined_feedback(self) -> str:
        key = await self.feedback()
        await self.post(f"/api/feedback/{key}/decline", {"reason": "not now"})
        return key

    async def decision(
        self, *, accepted: bool = False, feedback: tuple[str, ...] = (), team: str = "billing"
    ) -> str:
        body = {"team": team, "title": "t", "rationale": "r", "feedback": list(feedback)}
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
        return {"service": "billing-api", "environment": "production", "commit_sha": sha}


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

    async def supersede(team: str = "billing") -> Request:
        old, new = await f.decision(), await f.decision(team=team)
        return "POST", f"/api/decisions/{old}/supersede", {"by": new}

    async def link(team: str = "billing") -> Request:
        key, fb = await f.decision(), await f.feedback(team=team)
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

    async def duplicate(team: str = "billing") -> Request:
        key, original = await f.feedback(), await f.feedback(team=team)
        return "POST", f"/api/feedback/{key}/duplicate", {"of": original}

    async def plan(team: str = "billing") -> Request:
        key, decision = await f.feedback(), await f.decision(accepted=True, team=team)
        return "POST", f"/api/feedback/{key}/plan", {"decision": decision}

    async def resolve() -> Request:
        return "POST", f"/api/incidents/{await f.incident()}/resolve", {}

    async def revoke() -> Request:
        created = await f.post("/api/tokens", {"name": f.unique("t"), "role": "product"})
        return "DELETE", f"/api/tokens/{created['id']}", None

    async def read_item() -> Request:
        return "GET", f"/api/feedback/{await f.feedback()}", None

    async def read_decision() -> Request:
        return "GET", f"/api/decisions/{await f.decision()}", None

    def team_body() -> dict[str, Any]:
        slug = f.unique("team")
        return {"slug": slug, "name": slug}

    return [
        Endpoint("list feedback", lambda: fixed("GET", "/api/feedback")),
        Endpoint("read a feedback item", read_item),
        Endpoint("list decisions", lambda: fixed("GET", "/api/decisions")),
        Endpoint("read a decision", read_decision),
        Endpoint("list teams", lambda: fixed("GET", "/api/teams")),
        Endpoint("list outcomes", lambda: fixed("GET", "/api/outcomes")),
        Endpoint("list increments", lambda: fixed("GET", "/api/increments")),
        Endpoint("list incidents", lambda: fixed("GET", "/api/incidents")),
        Endpoint("read lead times", lambda: fixed("GET", "/api/metrics/lead-time?measure=triage")),
        Endpoint("read the vocabulary", lambda: fixed("GET", "/api/vocabulary")),
        Endpoint("form team", lambda: fixed("POST", "/api/teams", team_body())),
        Endpoint(
            "add member",
            lambda: fixed("POST", "/api/teams/billing/members", {"handle": f.unique("m")}),
        ),
        Endpoint("remove member", member_to_remove),
        Endpoint(
            "own repository",
            lambda: fixed(
                "POST", "/api/teams/billing/repositories", {"repository": f.unique("repo")}
            ),
        ),
        Endpoint(
            "define outcome",
            lambda: fixed(
                "POST", "/api/outcomes", {"statement": "s", "measure": "m", "team": "billing"}
            ),
        ),
        Endpoint(
            "propose decision",
            lambda: fixed(
                "POST", "/api/decisions", {"team": "billing", "title": "t", "rationale": "r"}
            ),
        ),
        Endpoint("accept decision", lambda: decision_action("accept")),
        Endpoint("decline decision", lambda: decision_action("decline", {"rationale": "no"})),
        Endpoint("supersede decision", supersede),
        Endpoint("supersede by another team's decision", lambda: supersede("support")),
        Endpoint("start decision", lambda: decision_action("start")),
        Endpoint("rank decision", lambda: decision_action("rank", {"position": 1})),
        Endpoint("link feedback", link),
        Endpoint("link another team's feedback", lambda: link("support")),
        Endpoint("unlink feedback", unlink),
        Endpoint(
            "receive feedback",
            lambda: fixed("POST", "/api/feedback", {"text": "hi", "channel": "web"}),
        ),
        Endpoint("triage feedback", triage),
        Endpoint("mark duplicate", duplicate),
        Endpoint("mark duplicate of another team's item", lambda: duplicate("support")),
        Endpoint("plan feedback", plan),
        Endpoint("plan under another team's decision", lambda: plan("support")),
        Endpoint("decline feedback", lambda: feedback_action("decline", {"reason": "x"})),
        Endpoint("defer feedback", lambda: feedback_action("defer", {"until": "2030-01-01"})),
        Endpoint(
            "reopen feedback",
            lambda: feedback_action("reopen", {"reason": "x"}, declined=True),
        ),
        Endpoint(
            "close the loop",
            lambda: feedback_action("close-loop", {"how": "email"}, declined=True),
        ),
        Endpoint("follow up a customer", lambda: feedback_action("follow-up", {"how": "call"})),
        Endpoint("record increment", lambda: fixed("POST", "/api/increments", f.increment())),
        Endpoint(
            "open incident",
            lambda: fixed("POST", "/api/incidents", {"service": "billing-api", "title": "down"}),
        ),
        Endpoint("resolve incident", resolve),
        Endpoint(
            "create token",
            lambda: fixed("POST", "/api/tokens", {"name": f.unique("t"), "role": "product"}),
        ),
        Endpoint("revoke token", revoke),
    ]


def expected(allowed: set[str], caller: str) -> int | None:
    """401 or 403 for a refused caller; None for an allowed one (any 2xx)."""
    if caller in (NO_TOKEN, BAD_TOKEN):
        return 401
    return None if caller in allowed else 403


async def test_every_row_of_the_documented_table_for_every_caller(
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
    rules = documented_rules()
    walked = endpoints(fixtures)
    # The table and the walk name the same actions.
    assert set(rules) == {e.name for e in walked}
    clients = {caller: client(api_server, token) for caller, token in tokens.items()}
    wrong: list[str] = []
    try:
        # Every row, asked by every caller, on things made fresh for the request.
        for endpoint in walked:
            prepared: Request | None = None
            for caller in CALLERS:
                # A refused request changes nothing, so the next caller may try the same.
                method, path, body = prepared = prepared or await endpoint.prepare()
                response = await clients[caller].request(method, path, json=body)
                if response.is_success:
                    prepared = None
                want = expected(rules[endpoint.name], caller)
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
    deploy = {"environment": "production", "commit_sha": "abcdef1234"}
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


async def test_a_members_increment_ships_only_its_teams_work(
    api: httpx.AsyncClient, api_server: str
) -> None:
    # Billing owns billing-api; each team has an accepted decision.
    for slug in ("billing", "support"):
        ok(await api.post("/api/teams", json={"slug": slug, "name": slug.title()}))
    ok(await api.post("/api/teams/billing/repositories", json={"repository": "billing-api"}))
    keys = {}
    for slug in ("billing", "support"):
        body = {"team": slug, "title": f"{slug} work", "rationale": "r"}
        keys[slug] = ok(await api.post("/api/decisions", json=body))["key"]
        ok(await api.post(f"/api/decisions/{keys[slug]}/accept"))
    # A billing member reports a deployment whose commit names both decisions.
    message = f"ships {keys['billing']} and {keys['support']}"
    deploy = {
        "service": "billing-api",
        "environment": "production",
        "commit_sha": "abcdef1234",
        "commits": [
            {"sha": "abcdef1234", "authored_at": "2026-01-05T10:00:00Z", "message": message}
        ],
    }
    async with client(api_server, await create_token(api, "member", "billing")) as member:
        recorded = ok(await member.post("/api/increments", json=deploy))
    # Its own team's decision ships; the other team's is recorded but not applied, and the
    # answer says so.
    assert recorded["shipped_decisions"] == [keys["billing"]]
    assert recorded["not_applied"] == [keys["support"]]
    assert recorded["decision_refs"] == [keys["billing"], keys["support"]]
    support = ok(await api.get(f"/api/decisions/{keys['support']}"))
    assert support["decision"]["status"] == "accepted"


async def test_a_members_triage_loads_the_item_once(
    api: httpx.AsyncClient, api_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Count the reads of each aggregate's events (the server runs in this process).
    reads: Counter[UUID] = Counter()
    get_events = PostgresEventStore.get_events

    async def counting(self: PostgresEventStore, originator_id: UUID, **kw: Any) -> Sequence[Any]:
        reads[originator_id] += 1
        return await get_events(self, originator_id, **kw)

    ok(await api.post("/api/teams", json={"slug": "billing", "name": "Billing"}))
    item = ok(await api.post("/api/feedback", json={"text": "slow", "channel": "chat"}))
    monkeypatch.setattr(PostgresEventStore, "get_events", counting)
    # A member triages the item by its key: the permission is checked on the one load, and
    # the answer's status comes from the aggregate, not from reading it again.
    async with client(api_server, await create_token(api, "member", "billing")) as member:
        triaged = ok(
            await member.post(f"/api/feedback/{item['key']}/triage", json={"team": "billing"})
        )
    assert triaged["status"] == "triaged"
    assert reads[UUID(item["id"])] == 1
