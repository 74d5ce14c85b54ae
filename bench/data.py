"""Bulk data for benchmarks and load tests: a deterministic organisation built from the
domain's own aggregates and commands (so the events are real), saved in large batches.

The demo (`loopline up --demo`) goes through the application services one command at a
time; this path skips the per-command load and index bookkeeping to produce hundreds of
thousands of events in seconds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from eventsourcing.domain import Aggregate

from domain.decision import Decision
from domain.feedback import Demand, Feedback
from domain.incident import Incident
from domain.increment import Commit, Increment
from domain.ports import EventStore
from domain.team import Team
from domain.vocabulary import Channel, FeedbackStatus

TOUCHPOINTS = ("product", "onboarding", "billing", "support", "delivery", "mobile")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Size:
    teams: int = 4
    feedback: int = 1000
    increments: int = 200


def organisation(seed: int, size: Size) -> Iterator[list[Aggregate]]:
    """Yield groups of aggregates with pending events, in an order that saves cleanly."""
    rng = random.Random(seed)
    teams = []
    for t in range(size.teams):
        team = Team(slug=f"team-{t}", name=f"Team {t}", formed_at=START)
        for m in range(5):
            team.join(handle=f"dev{t}-{m}", skills=("python", "sql"), joined_at=START)
        team.own(repository=f"acme/service-{t}", owned_at=START)
        teams.append(team)
    yield list(teams)

    decisions: list[Decision] = []
    for d in range(max(1, size.feedback // 20)):
        team = teams[d % len(teams)]
        decision = Decision(
            key=f"DEC-{d + 1}",
            team_id=team.id,
            title=f"Decision {d + 1}",
            rationale="Customers keep asking for it.",
            options=("do it", "do nothing"),
            outcome_id=None,
            feedback_ids=(),
            proposed_by="pm",
            proposed_at=START + timedelta(days=rng.uniform(0, 60)),
        )
        decision.accept(decided_by="pm", decided_at=decision.proposed_at + timedelta(days=1))
        decisions.append(decision)
    yield list(decisions)

    batch: list[Aggregate] = []
    previous: Feedback | None = None
    for n in range(size.feedback):
        received = START + timedelta(days=rng.uniform(0, 120), seconds=n)
        nps = rng.randint(0, 10) if rng.random() < 0.4 else None
        item = Feedback(
            key=f"FB-{n + 1}",
            channel=list(Channel)[n % len(Channel)],
            touchpoint=rng.choice(TOUCHPOINTS),
            text=f"Customer {n} says the {rng.choice(TOUCHPOINTS)} flow is slow and confusing",
            customer_ref=f"cust-{rng.randint(1, max(2, size.feedback // 3))}",
            segment=rng.choice(("smb", "enterprise", "consumer")),
            nps=nps,
            nps_reason="because" if nps is not None else None,
            external_ref=f"ext-{n}",
            received_at=received,
        )
        team = teams[n % len(teams)]
        roll = rng.random()
        when = received + timedelta(hours=rng.uniform(1, 200))
        if roll < 0.1 and previous is not None and previous.status == FeedbackStatus.NEW:
            item.mark_duplicate(original_id=previous.id, marked_at=when)
            previous.merge_demand(
                duplicate_ids=(item.id,),
                demand=(Demand(item.id, item.customer_ref, item.received_at),),
                merged_at=when,
            )
        elif roll < 0.85:
            item.triage(
                team_id=team.id, tags=("ux",), impact="medium", outcome_id=None, triaged_at=when
            )
            if roll < 0.5:
                decision = decisions[n % len(decisions)]
                item.plan(decision_id=decision.id, planned_at=when + timedelta(hours=2))
                if roll < 0.3:
                    shipped = when + timedelta(days=rng.uniform(1, 20))
                    item.mark_shipped(
                        increment_id=Aggregate.create_id(),
                        decision_id=decision.id,
                        shipped_at=shipped,
                    )
                    if roll < 0.2:
                        item.close_loop(how="email", note=None, closed_at=shipped + timedelta(1))
            elif roll < 0.6:
                item.decline(reason="Not our focus", decision_id=None, declined_at=when)
            elif roll < 0.65:
                item.defer(until=date(2026, 12, 1), reason="Later", deferred_at=when)
        batch.append(item)
        previous = item
        if len(batch) >= 200:
            yield batch
            batch = []
    if batch:
        yield batch

    batch = []
    for i in range(size.increments):
        team_index = i % len(teams)
        finished = START + timedelta(days=rng.uniform(0, 120))
        commits = tuple(
            Commit(
                sha=f"{rng.getrandbits(160):040x}",
                authored_at=finished - timedelta(hours=rng.uniform(1, 300)),
                message=f"Ships DEC-{rng.randint(1, len(decisions))}",
            )
            for _ in range(rng.randint(1, 4))
        )
        increment = Increment(
            service=f"acme/service-{team_index}",
            environment="production",
            release_version=f"v{i}",
            commit_sha=commits[-1].sha,
            started_at=finished - timedelta(minutes=10),
            finished_at=finished,
            succeeded=rng.random() > 0.08,
            commits=commits,
            feedback_refs=(),
            decision_refs=(),
            external_ref=f"deploy-{i}",
        )
        batch.append(increment)
        if rng.random() < 0.05:
            incident = Incident(
                service=increment.service,
                title="Errors spiked",
                opened_at=finished + timedelta(minutes=30),
                caused_by_sha=None,
                caused_by_increment_id=None,
                external_ref=None,
            )
            incident.resolve(resolution="rolled forward", resolved_at=finished + timedelta(hours=3))
            batch.append(incident)
        if len(batch) >= 200:
            yield batch
            batch = []
    if batch:
        yield batch


async def load(store: EventStore, seed: int, size: Size) -> int:
    """Save the organisation; return how many events were written."""
    written = 0
    for group in organisation(seed, size):
        recording = await store.save(*group)
        written += len(recording.positions)
    return written
