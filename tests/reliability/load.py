"""A mixed load of API clients that remembers what it was acknowledged, and the check that
everything acknowledged is in the store exactly once.

Clients retry a request that was not acknowledged (connection refused, 503) with the same
idempotency key, as real senders do; so a request stored just before a crash and sent again
afterwards must still make exactly one set of events.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from infra.eventstore import create_mapper
from infra.recorder import AsyncpgRecorder
from tests.conftest import ADMIN_TOKEN
from tests.webhook_senders import encode, github_headers

REPOSITORY = "acme/billing"
TEAM = "billing"


@dataclass
class Acknowledged:
    """What the API answered 2xx to, and what it answered otherwise."""

    feedback: set[str] = field(default_factory=set)
    """external_ref of each feedback item received."""
    triaged: set[str] = field(default_factory=set)
    """external_ref of each feedback item triaged."""
    keys: dict[str, str] = field(default_factory=dict)
    """external_ref → FB key of each feedback item received."""
    deployments: set[int] = field(default_factory=set)
    """deployment_status id of each GitHub delivery acknowledged."""
    pushes: set[str] = field(default_factory=set)
    """X-GitHub-Delivery of each push acknowledged."""
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    retry_after_missing: int = 0
    problems_not_json: int = 0

    @property
    def total(self) -> int:
        return len(self.feedback) + len(self.triaged) + len(self.deployments) + len(self.pushes)


def deployment_status(status_id: int) -> dict[str, Any]:
    return {
        "action": "created",
        "deployment_status": {
            "id": status_id,
            "state": "success",
            "environment": "production",
            "created_at": "2024-05-01T10:05:00Z",
        },
        "deployment": {
            "id": status_id,
            "sha": f"{status_id:040x}",
            "ref": "main",
            "environment": "production",
            "created_at": "2024-05-01T10:00:00Z",
        },
        "repository": {"full_name": REPOSITORY},
    }


def push(sha: str) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": sha,
        "deleted": False,
        "repository": {"full_name": REPOSITORY},
        "commits": [{"id": sha, "timestamp": "2024-05-01T09:00:00Z", "message": "fixes it"}],
        "head_commit": {"id": sha, "timestamp": "2024-05-01T09:00:00Z"},
    }


class Client:
    """One of the load's clients: picks a request, sends it until it is acknowledged."""

    def __init__(self, base_url: str, number: int, seen: Acknowledged, stop: asyncio.Event):
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=httpx.Timeout(15.0, connect=2.0),
        )
        self.rng = random.Random(number)
        self.number = number
        self.seen = seen
        self.stop = stop
        self.sequence = 0
        self.tried: set[str] = set()

    async def run(self) -> None:
        try:
            while not self.stop.is_set():
                await self.one()
        finally:
            await self.http.aclose()

    async def one(self) -> None:
        self.sequence += 1
        choice = self.rng.random()
        mine = [
            ref
            for ref in self.seen.keys
            if ref.startswith(f"c{self.number}-") and ref not in self.tried
        ]
        if choice < 0.2 and mine:
            ref = self.rng.choice(sorted(mine))
            path = f"/api/feedback/{self.seen.keys[ref]}/triage"
            # If-Match makes the retry of a triage that was stored but not answered a 412.
            headers = {"If-Match": '"1"'}
            self.tried.add(ref)
            if await self.send("POST", path, json={"team": TEAM}, headers=headers) is not None:
                self.seen.triaged.add(ref)
        elif choice < 0.55:
            ref = f"c{self.number}-{self.sequence}"
            body = {"text": f"It hurts ({ref})", "channel": "chat", "external_ref": ref}
            answer = await self.send("POST", "/api/feedback", json=body)
            if answer is not None:
                self.seen.feedback.add(ref)
                self.seen.keys[ref] = answer.json()["key"]
        elif choice < 0.85:
            status_id = self.number * 1_000_000 + self.sequence
            content = encode(deployment_status(status_id))
            headers = github_headers(content, "deployment_status", delivery=f"ds-{status_id}")
            if await self.send("POST", "/webhooks/github", content=content, headers=headers):
                self.seen.deployments.add(status_id)
        else:
            sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
            content = encode(push(sha))
            headers = github_headers(content, "push", delivery=f"push-{sha}")
            if await self.send("POST", "/webhooks/github", content=content, headers=headers):
                self.seen.pushes.add(headers["x-github-delivery"])

    async def send(self, method: str, path: str, **kw: Any) -> httpx.Response | None:
        """Send until acknowledged (the answer); None if the load stopped first or the
        request turned out to be done already (a 412 on a retried If-Match)."""
        retried = False
        while not self.stop.is_set():
            try:
                answer = await self.http.request(method, path, **kw)
            except httpx.TransportError:
                self.seen.transport_errors += 1
                retried = True
                await asyncio.sleep(0.05)
                continue
            self.seen.statuses[answer.status_code] += 1
            if answer.is_success:
                return answer
            if not answer.headers.get("content-type", "").startswith("application/problem+json"):
                self.seen.problems_not_json += 1
            if answer.status_code == 503:
                if "retry-after" not in answer.headers:
                    self.seen.retry_after_missing += 1
                retried = True
                await asyncio.sleep(0.1)
                continue
            if answer.status_code == 412 and retried:
                return None
            raise AssertionError(f"{method} {path}: {answer.status_code} {answer.text}")
        return None


async def run_load(base_url: str, clients: int, stop: asyncio.Event) -> Acknowledged:
    seen = Acknowledged()
    await asyncio.gather(*(Client(base_url, n, seen, stop).run() for n in range(clients)))
    return seen


@dataclass
class Stored:
    feedback: Counter[str]
    triaged: Counter[str]
    increments: Counter[str]
    events: int


async def stored(pool: asyncpg.Pool) -> Stored:
    """Every event in the store, decoded, counted by what identifies it."""
    recorder = AsyncpgRecorder(pool)
    mapper = create_mapper()
    feedback: Counter[str] = Counter()
    triaged: Counter[str] = Counter()
    increments: Counter[str] = Counter()
    ref_of: dict[uuid.UUID, str] = {}
    position, events = 0, 0
    while True:
        batch = await recorder.select_notifications(position, 2000)
        if not batch:
            break
        for notification in batch:
            position = notification.id
            events += 1
            event: Any = mapper.to_domain_event(notification)
            name = type(event).__qualname__
            if name == "Feedback.Received" and event.external_ref:
                feedback[event.external_ref] += 1
                ref_of[event.originator_id] = event.external_ref
            elif name == "Feedback.Triaged" and event.originator_id in ref_of:
                triaged[ref_of[event.originator_id]] += 1
            elif name == "Increment.Recorded" and event.external_ref:
                increments[event.external_ref] += 1
    return Stored(feedback, triaged, increments, events)


async def deliveries(pool: asyncpg.Pool) -> dict[str, tuple[str, int]]:
    """Stored GitHub deliveries: delivery id → (state, how many rows)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT delivery_id, min(state) AS state, count(*) AS n FROM webhook_deliveries "
            "WHERE source = 'github' GROUP BY delivery_id"
        )
    return {row["delivery_id"]: (row["state"], row["n"]) for row in rows}


async def settled(pool: asyncpg.Pool, *, within: float) -> None:
    """Wait until no stored delivery is pending."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        async with pool.acquire() as conn:
            pending = await conn.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'"
            )
        if pending == 0:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{pending} deliveries still pending after {within}s")
        await asyncio.sleep(0.2)


async def check_nothing_lost(pool: asyncpg.Pool, seen: Acknowledged) -> int:
    """Every acknowledged request in the store exactly once; the number of events checked."""
    found = await stored(pool)
    lost = [ref for ref in seen.feedback if found.feedback[ref] == 0]
    assert not lost, f"acknowledged feedback missing from the store: {lost}"
    doubled = [ref for ref, n in found.feedback.items() if n > 1]
    assert not doubled, f"feedback received twice: {doubled}"
    untriaged = [ref for ref in seen.triaged if found.triaged[ref] == 0]
    assert not untriaged, f"acknowledged triage missing: {untriaged}"
    inbox = await deliveries(pool)
    for status_id in seen.deployments:
        state, rows = inbox.get(f"ds-{status_id}", ("missing", 0))
        assert (state, rows) == ("mapped", 1), (status_id, state, rows)
        ref = f"github:deployment_status:{status_id}"
        assert found.increments[ref] == 1, (ref, found.increments[ref])
    for delivery in seen.pushes:
        assert inbox.get(delivery, ("missing", 0)) == ("mapped", 1), delivery
    doubled = [ref for ref, n in found.increments.items() if n > 1]
    assert not doubled, f"increments recorded twice: {doubled}"
    return found.events
