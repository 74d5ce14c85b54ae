"""List and detail queries over the read models, built by the real domain services and the
projection runner: filters, full-text search, cursor pagination, backlog demand."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncpg
import pytest

from domain.increment import Commit
from domain.services import (
    accept_decision,
    add_member,
    adopt_outcome,
    define_outcome,
    form_team,
    mark_duplicate,
    open_incident,
    own_repository,
    propose_decision,
    rank_decision,
    receive_feedback,
    record_increment,
    resolve_incident,
    triage_feedback,
)
from infra.eventstore import PostgresEventStore
from projections.backlog import backlog, get_decision_item
from projections.catalog import all_projections
from projections.delivery import list_incidents, list_increments
from projections.directory import get_outcome_item, get_team_item, list_outcomes, list_teams
from projections.feedback import get_feedback_item, list_feedback
from projections.paging import InvalidQuery, Page
from projections.runner import ProjectionRunner

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T = TypeVar("T")


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


async def project(database_url: str, event_store: PostgresEventStore) -> None:
    await ProjectionRunner(
        database_url,
        event_store.recorder,
        event_store.mapper,
        all_projections(),
        batch_size=500,
        poll_interval=0.05,
        lease_retry=0.05,
    ).catch_up()


async def every_page(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> list[list[T]]:
    """Follow the cursors from the first page to the last."""
    pages: list[list[T]] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


async def test_feedback_filters_and_full_text_search(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # Two teams, an outcome, and feedback from several channels.
    await form_team(event_store, slug="billing", name="Billing", formed_at=at(-5))
    await form_team(event_store, slug="mobile", name="Mobile", formed_at=at(-5))
    outcome = await define_outcome(
        event_store, statement="Self-service billing", measure="calls", defined_at=at(-5)
    )
    invoice = await receive_feedback(
        event_store,
        channel="email",
        touchpoint="billing",
        text="The invoices I download are empty PDFs",
        customer_ref="acme",
        received_at=T0,
    )
    crash = await receive_feedback(
        event_store,
        channel="chat",
        text="The app crashes when I open settings",
        customer_ref="globex",
        received_at=at(1),
    )
    survey = await receive_feedback(
        event_store,
        channel="survey",
        text="Too expensive",
        nps=2,
        nps_reason="the invoice total surprised me",
        received_at=at(2),
    )
    await triage_feedback(
        event_store, invoice.id, team="billing", outcome_id=outcome.id, triaged_at=at(0, 1)
    )
    await triage_feedback(event_store, crash.id, team="mobile", triaged_at=at(1, 1))
    await project(database_url, event_store)

    async with pool.acquire() as conn:

        async def keys(**filters: object) -> list[str]:
            page = await list_feedback(conn, **filters)  # type: ignore[arg-type]
            return [item.key for item in page.items]

        # Newest first, unfiltered.
        assert await keys() == [survey.key, crash.key, invoice.key]
        # Each filter narrows the list.
        assert await keys(team="billing") == [invoice.key]
        assert await keys(status="new") == [survey.key]
        assert await keys(status=["new", "triaged"]) == [survey.key, crash.key, invoice.key]
        assert await keys(channel="chat") == [crash.key]
        assert await keys(touchpoint="billing") == [invoice.key]
        assert await keys(outcome=outcome.id) == [invoice.key]
        assert await keys(outcome=str(outcome.id), team="mobile") == []
        assert await keys(received_from=at(1), received_to=at(2)) == [crash.key]
        # Full-text search: stemmed words in the text and the NPS reason, and the
        # web-search syntax (phrases, exclusions).
        assert await keys(q="invoice") == [survey.key, invoice.key]
        assert await keys(q="crashing") == [crash.key]
        assert await keys(q="invoice -total") == [invoice.key]
        assert await keys(q='"empty PDFs"') == [invoice.key]
        assert await keys(q="globex") == [crash.key]

        # One item by key (any case) or id, with its team and outcome.
        item = await get_feedback_item(conn, str(invoice.key).lower())
        assert item is not None
        assert (item.id, item.team, item.outcome_id, item.status) == (
            invoice.id,
            "billing",
            outcome.id,
            "triaged",
        )
        assert item.triaged_at == at(0, 1)
        assert await get_feedback_item(conn, crash.id) is not None
        assert await get_feedback_item(conn, "FB-999") is None


async def test_feedback_cursor_pages_have_no_duplicates_or_gaps(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # 23 items, many received at the very same time (ties broken by number).
    received: list[tuple[datetime, str]] = []
    for n in range(23):
        written = await receive_feedback(
            event_store, channel="web", text=f"wish {n}", received_at=at(hours=n // 4)
        )
        received.append((at(hours=n // 4), str(written.key)))
    await project(database_url, event_store)
    expected = [
        key for _, key in sorted(received, key=lambda r: (r[0], int(r[1][3:])), reverse=True)
    ]

    async with pool.acquire() as conn:
        pages = await every_page(lambda cursor: list_feedback(conn, cursor=cursor, limit=5))
        assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
        assert [item.key for page in pages for item in page] == expected
        # An exact multiple of the page size ends without an empty page.
        pages = await every_page(lambda cursor: list_feedback(conn, cursor=cursor, limit=23))
        assert [len(p) for p in pages] == [23]
        # Items received while paging (newer than the first page) do not shift later pages.
        first = await list_feedback(conn, limit=10)
    await receive_feedback(event_store, channel="web", text="late", received_at=at(10))
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        assert first.next_cursor is not None
        rest = await list_feedback(conn, cursor=first.next_cursor, limit=100)
        assert [i.key for i in first.items + rest.items] == expected
        # Cursors we did not issue, and limits out of range, are refused by name.
        with pytest.raises(InvalidQuery) as bad:
            await list_feedback(conn, cursor="not-a-cursor")
        assert bad.value.field == "cursor"
        with pytest.raises(InvalidQuery):
            await list_feedback(conn, limit=0)


async def test_backlog_ranks_decisions_with_their_demand(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await form_team(event_store, slug="billing", name="Billing", formed_at=at(-5))
    await form_team(event_store, slug="mobile", name="Mobile", formed_at=at(-5))

    async def ask(customer: str, nps: int | None) -> str:
        written = await receive_feedback(
            event_store,
            channel="survey" if nps is not None else "email",
            text=f"{customer} wants exports",
            customer_ref=customer,
            nps=nps,
            received_at=T0,
        )
        await triage_feedback(event_store, written.id, team="billing", triaged_at=at(0, 1))
        assert written.key is not None
        return written.key

    # Acme (a detractor) and Globex (a promoter) ask; Acme again and Initech (a detractor)
    # ask in items merged into Acme's as duplicates.
    acme = await ask("acme", 3)
    globex = await ask("globex", 9)
    again = await ask("acme", None)
    initech = await ask("initech", 5)
    await mark_duplicate(event_store, again, original=acme, marked_at=at(0, 2))
    await mark_duplicate(event_store, initech, original=acme, marked_at=at(0, 2))

    exports = await propose_decision(
        event_store,
        team="billing",
        title="CSV exports",
        rationale="asked often",
        feedback=[acme, globex],
        proposed_at=at(1),
    )
    sepa = await propose_decision(
        event_store, team="billing", title="SEPA", rationale="EU", proposed_at=at(1)
    )
    dunning = await propose_decision(
        event_store, team="billing", title="Dunning", rationale="cash", proposed_at=at(1)
    )
    other = await propose_decision(
        event_store, team="mobile", title="Offline mode", rationale="trains", proposed_at=at(1)
    )
    for decision in (exports, sepa):
        await accept_decision(event_store, decision.id, decided_at=at(2))
    await rank_decision(event_store, sepa.id, rank=1, ranked_at=at(2))
    await rank_decision(event_store, exports.id, rank=2, ranked_at=at(2))
    await project(database_url, event_store)

    async with pool.acquire() as conn:
        ranked = await backlog(conn, "billing")
        # Ranked first, then the unranked proposal; the other team's decision is not there.
        assert [d.key for d in ranked] == [sepa.key, exports.key, dunning.key]
        assert [d.rank for d in ranked] == [1, 2, None]
        assert {d.team for d in ranked} == {"billing"}
        top = ranked[1]
        # Demand: 2 linked items and the 2 duplicates merged into Acme's, 4 asks; customers
        # acme, globex, initech; detractors: acme (3) and initech (5); globex's 9 promotes.
        assert (top.feedback, top.items, top.demand, top.customers, top.detractors) == (
            [acme, globex],
            2,
            4,
            3,
            2,
        )
        assert (ranked[0].demand, ranked[0].customers, ranked[0].detractors) == (0, 0, 0)
        # Status filters and the single decision by key.
        assert [d.key for d in await backlog(conn, "billing", status="accepted")] == [
            sepa.key,
            exports.key,
        ]
        everything = await backlog(conn, status=None)
        assert {d.key for d in everything} == {exports.key, sepa.key, dunning.key, other.key}
        assert exports.key is not None
        one = await get_decision_item(conn, exports.key.lower())
        assert one is not None
        assert (one.id, one.status, one.customers) == (exports.id, "accepted", 3)
        assert await get_decision_item(conn, exports.id) == one
        assert await get_decision_item(conn, "DEC-999") is None
        # The planned feedback names its decision.
        planned = await get_feedback_item(conn, acme)
        assert planned is not None
        assert (planned.status, planned.decision, planned.demand) == ("planned", exports.key, 3)
        duplicate = await get_feedback_item(conn, again)
        assert duplicate is not None
        assert (duplicate.status, duplicate.duplicate_of_key) == ("duplicate", acme)


async def test_increments_incidents_teams_and_outcomes(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await form_team(event_store, slug="payments", name="Payments", formed_at=at(-5))
    await add_member(event_store, "payments", handle="ada", skills=["go", "sql"], joined_at=at(-5))
    await add_member(event_store, "payments", handle="bob", skills=["ux"], joined_at=at(-4))
    await own_repository(event_store, "payments", repository="payments-api", owned_at=at(-5))
    outcome = await define_outcome(
        event_store, statement="Refunds are instant", measure="refund time", defined_at=at(-5)
    )
    await adopt_outcome(event_store, "payments", outcome_id=outcome.id, adopted_at=at(-5))
    ids = []
    for n in range(7):
        written = await record_increment(
            event_store,
            service="payments-api" if n % 2 == 0 else "ledger",
            environment="production" if n != 3 else "staging",
            commit_sha=f"{n:02x}" * 20,
            finished_at=at(n // 2),  # pairs finish at the same time
            commits=[
                Commit(
                    sha=f"{n:02x}" * 20,
                    authored_at=at(-1),
                    message=f"fixes FB-{n + 10} DEC-{n + 10}",
                )
            ],
        )
        ids.append(written.id)
    incident = await open_incident(
        event_store, service="payments-api", title="refunds fail", opened_at=at(3, 1)
    )
    await resolve_incident(event_store, incident.id, resolved_at=at(3, 2))
    await open_incident(event_store, service="ledger", title="drift", opened_at=at(3, 3))
    await project(database_url, event_store)

    async with pool.acquire() as conn:
        # Increments newest first, through pages of 2 with ties on finish time.
        pages = await every_page(lambda c: list_increments(conn, cursor=c, limit=2))
        listed = [i for page in pages for i in page]
        assert len(listed) == 7
        assert len({i.id for i in listed}) == 7
        assert [i.finished_at for i in listed] == sorted(
            (i.finished_at for i in listed), reverse=True
        )
        first = next(i for i in listed if i.id == ids[0])
        assert (first.feedback_refs, first.decision_refs, first.team) == (
            ["FB-10"],
            ["DEC-10"],
            "payments",
        )
        owned = (await list_increments(conn, team="payments")).items
        assert {i.service for i in owned} == {"payments-api"}
        assert len((await list_increments(conn, production=False)).items) == 1
        assert len((await list_increments(conn, service="ledger")).items) == 3

        # Incidents newest first, with their team and status.
        incidents = (await list_incidents(conn)).items
        assert [(i.title, i.status, i.team) for i in incidents] == [
            ("drift", "open", None),
            ("refunds fail", "resolved", "payments"),
        ]
        assert [i.title for i in (await list_incidents(conn, status="open")).items] == ["drift"]
        assert [i.title for i in (await list_incidents(conn, team="payments")).items] == [
            "refunds fail"
        ]

        # Teams with members and repositories; outcomes with their teams.
        [team] = await list_teams(conn)
        assert (team.slug, team.repositories, team.outcome_ids) == (
            "payments",
            ["payments-api"],
            [outcome.id],
        )
        assert [(m.handle, m.skills, m.joined_at) for m in team.members] == [
            ("ada", ["go", "sql"], at(-5)),
            ("bob", ["ux"], at(-4)),
        ]
        assert await get_team_item(conn, team.id) == team
        assert await get_team_item(conn, "PAYMENTS") == team
        assert await get_team_item(conn, "nobody") is None
        [listed_outcome] = await list_outcomes(conn)
        assert (listed_outcome.statement, listed_outcome.teams) == (
            "Refunds are instant",
            ["payments"],
        )
        assert await get_outcome_item(conn, str(outcome.id)) == listed_outcome
        assert await get_outcome_item(conn, "not-an-id") is None
