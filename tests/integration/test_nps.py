"""NPS over the real read models: a small set of survey answers whose figures, margins,
why-themes and follow-up loop are worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from domain.services import (
    form_team,
    mark_duplicate,
    receive_feedback,
    triage_feedback,
)
from infra.eventstore import PostgresEventStore
from projections.catalog import all_projections
from projections.nps import Selection, nps, why
from projections.queries import InvalidQuery
from projections.runner import ProjectionRunner

JAN = datetime(2026, 1, 12, 10, tzinfo=UTC)  # a Monday
MAR = datetime(2026, 3, 9, 10, tzinfo=UTC)  # a Monday; February has no answers
Q1 = Selection(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC))


async def project(database_url: str, event_store: PostgresEventStore) -> None:
    runner = ProjectionRunner(
        database_url,
        event_store.recorder,
        event_store.mapper,
        all_projections(),
        batch_size=500,
        poll_interval=0.05,
        lease_retry=0.05,
    )
    await runner.catch_up()


async def answer(
    store: PostgresEventStore,
    score: int | None,
    touchpoint: str,
    when: datetime,
    why: str | None = None,
    *,
    segment: str = "smb",
    customer: str = "ann@example.com",
) -> str:
    written = await receive_feedback(
        store,
        channel="survey",
        text=why or "no comment",
        touchpoint=touchpoint,
        customer_ref=customer,
        segment=segment,
        nps=score,
        nps_reason=why if score is not None else None,
        received_at=when,
    )
    assert written.key is not None
    return written.key


async def first_quarter(store: PostgresEventStore) -> None:
    # January: billing 10, 9, 3, 0 and onboarding 8, 10.
    for score in (10, 9, 3, 0):
        await answer(store, score, "billing", JAN)
    for score in (8, 10):
        await answer(store, score, "onboarding", JAN + timedelta(days=1))
    # February: nobody answered a survey (an unscored message does not count).
    await answer(store, None, "billing", JAN + timedelta(days=30))
    # March: billing 6 and 9, and a 9 that duplicates the 6's item: it still counts.
    six = await answer(store, 6, "billing", MAR)
    await answer(store, 9, "billing", MAR + timedelta(hours=1))
    dup = await answer(store, 9, "billing", MAR + timedelta(hours=2))
    await mark_duplicate(store, dup, original=six, marked_at=MAR + timedelta(hours=3))


async def test_nps_and_margin_by_touchpoint_and_month(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await first_quarter(event_store)
    await project(database_url, event_store)

    async with pool.acquire() as conn:
        # By month, with February present and empty.
        months = await nps(conn, Q1, group_by="month")
        assert [g.group for g in months.groups] == [
            {"month": "2026-01"},
            {"month": "2026-02"},
            {"month": "2026-03"},
        ]
        jan, feb, mar = months.groups
        # January: 6 answers, promoters 10, 9, 10 (3), passive 8, detractors 3, 0 (2).
        # NPS = 100 * (3 - 2) / 6 = 16.67. Shares p = 1/2, d = 1/3: the variance of the
        # +1/0/-1 scores is p + d - (p - d)^2 = 5/6 - 1/36 = 29/36; the margin is
        # 1.96 * sqrt(29/36 / 6) * 100 = 71.81 points.
        assert (jan.responses, jan.promoters, jan.passives, jan.detractors) == (6, 3, 1, 2)
        assert jan.nps == pytest.approx(16.667, abs=1e-3)
        assert jan.margin == pytest.approx(71.81, abs=0.01)
        # February: no answers, no NPS.
        assert (feb.responses, feb.nps, feb.margin) == (0, None, None)
        # March: 6, 9 and the duplicate's 9: NPS = 100 * (2 - 1) / 3 = 33.33; p = 2/3,
        # d = 1/3: variance 1 - 1/9 = 8/9, margin 1.96 * sqrt(8/27) * 100 = 106.69.
        assert (mar.responses, mar.promoters, mar.detractors) == (3, 2, 1)
        assert mar.nps == pytest.approx(33.333, abs=1e-3)
        assert mar.margin == pytest.approx(106.69, abs=0.01)

        # By touchpoint: billing 10, 9, 3, 0, 6, 9, 9 -> 4 promoters, 3 detractors of 7:
        # NPS 14.29; onboarding 8, 10: NPS 50, variance 1/2 - 1/4 = 1/4, margin
        # 1.96 * sqrt(1/8) * 100 = 69.30.
        touchpoints = {
            g.group["touchpoint"]: g for g in (await nps(conn, Q1, group_by="touchpoint")).groups
        }
        assert set(touchpoints) == {"billing", "onboarding"}
        assert touchpoints["billing"].responses == 7
        assert touchpoints["billing"].nps == pytest.approx(14.286, abs=1e-3)
        assert touchpoints["onboarding"].nps == 50.0
        assert touchpoints["onboarding"].margin == pytest.approx(69.30, abs=0.01)

        # By touchpoint and month: each touchpoint has every month, empty ones included.
        both = await nps(conn, Q1, group_by="touchpoint,month")
        assert [(g.group["touchpoint"], g.group["month"], g.responses) for g in both.groups] == [
            ("billing", "2026-01", 4),
            ("billing", "2026-02", 0),
            ("billing", "2026-03", 3),
            ("onboarding", "2026-01", 2),
            ("onboarding", "2026-02", 0),
            ("onboarding", "2026-03", 0),
        ]

        # The window is half-open: from the start of March, January and February are out.
        march = Selection(start=datetime(2026, 3, 1, tzinfo=UTC), end=Q1.end)
        (total,) = (await nps(conn, march)).groups
        assert (total.group, total.responses) == ({}, 3)

        # A single answer has no spread: margin 0; nothing at all: null figures.
        one = Selection(start=MAR, end=MAR + timedelta(minutes=1))
        assert (await nps(conn, one)).groups[0].margin == 0.0
        none = Selection(segment="nobody-has-this-segment")
        (empty,) = (await nps(conn, none)).groups
        assert (empty.responses, empty.nps, empty.margin) == (0, None, None)

        # A grouping it does not know is refused, naming the parameter.
        with pytest.raises(InvalidQuery) as refused:
            await nps(conn, Q1, group_by="colour")
        assert refused.value.field == "group_by"


async def test_nps_by_team_counts_a_duplicate_with_its_original(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await form_team(event_store, slug="billing", name="Billing", formed_at=JAN - timedelta(30))
    # A detractor triaged to billing, and a promoter that duplicates it (never triaged).
    zero = await answer(event_store, 0, "billing", JAN)
    await triage_feedback(event_store, zero, team="billing", triaged_at=JAN + timedelta(hours=1))
    ten = await answer(event_store, 10, "billing", JAN + timedelta(hours=2))
    await mark_duplicate(event_store, ten, original=zero, marked_at=JAN + timedelta(hours=3))
    # An untriaged passive.
    await answer(event_store, 7, "billing", JAN + timedelta(hours=4))
    await project(database_url, event_store)

    async with pool.acquire() as conn:
        groups = (await nps(conn, Q1, group_by="team")).groups
    # Billing: 0 and 10 -> NPS 0; the untriaged 7 forms the null team, listed last.
    assert [(g.group["team"], g.responses, g.nps) for g in groups] == [
        ("billing", 2, 0.0),
        (None, 1, 0.0),
    ]


async def test_nps_over_http(api: httpx.AsyncClient, event_store: PostgresEventStore) -> None:
    await answer(event_store, 10, "billing", JAN, segment="Enterprise")
    await answer(event_store, 2, "billing", JAN, segment="smb")
    head = await event_store.recorder.max_notification_id()

    # Segment filters compare without regard to case.
    params = {"segment": "enterprise", "after": str(head)}
    answered = await api.get("/api/metrics/nps", params=params)
    assert answered.status_code == 200, answered.text
    assert answered.json() == {
        "group_by": [],
        "groups": [
            {
                "group": {},
                "responses": 1,
                "promoters": 1,
                "passives": 0,
                "detractors": 0,
                "nps": 100.0,
                "margin": 0.0,
            }
        ],
    }
    # A week series up to `to`, empty weeks present.
    series = await api.get(
        "/api/metrics/nps",
        params={"group_by": "week", "from": "2026-01-05T00:00:00Z", "to": "2026-01-26T00:00:00Z"},
    )
    assert [(g["group"]["week"], g["responses"]) for g in series.json()["groups"]] == [
        ("2026-01-05", 0),
        ("2026-01-12", 2),
        ("2026-01-19", 0),
    ]
    # Bad input: a 400 naming the parameter.
    bad = await api.get("/api/metrics/nps", params={"group_by": "week,month"})
    assert bad.status_code == 400
    assert "group_by" in bad.text
    # The why of the same selection.
    themes = await api.get("/api/metrics/nps/why", params={"segment": "SMB", "limit": "2"})
    assert themes.status_code == 200, themes.text
    assert (themes.json()["responses"], themes.json()["detractors"]) == (1, 1)
    assert (await api.get("/api/metrics/nps/why", params={"limit": "0"})).status_code == 400


async def test_the_word_that_marks_detractors_leads_the_why(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await form_team(event_store, slug="billing", name="Billing", formed_at=JAN - timedelta(30))
    # Five detractors, four of whom complain about the invoice; four promoters praise how
    # fast it is; both sides mention the app.
    detractors = [
        "The invoice is wrong again and the app does not explain it",
        "Every invoice arrives late",
        "Invoices never match what I ordered",
        "I cannot download my invoice from the app",
        "Too expensive for what it does",
    ]
    promoters = [
        "Fast and simple app",
        "Really fast delivery",
        "The app is fast",
        "Fast support, friendly people",
    ]
    keys = {}
    for n, text in enumerate(detractors):
        keys[text] = await answer(event_store, n % 4, "billing", JAN + timedelta(hours=n), text)
    for n, text in enumerate(promoters):
        keys[text] = await answer(event_store, 10, "product", JAN + timedelta(hours=9 + n), text)
    # A passive is neither side.
    await answer(event_store, 8, "product", JAN + timedelta(hours=20), "Invoice fine, app fast")
    # Triage: the invoice complaints are tagged billing, two promoters praise.
    for text in detractors[:4]:
        await triage_feedback(event_store, keys[text], team="billing", tags=["billing"])
    for text in promoters[:2]:
        await triage_feedback(event_store, keys[text], team="billing", tags=["praise"])
    await project(database_url, event_store)

    async with pool.acquire() as conn:
        found = await why(conn, Q1, limit=3)

    assert (found.responses, found.detractors, found.passives, found.promoters) == (10, 5, 1, 4)
    # Tags: billing on 4 detractors (newest first as examples), praise on 2 promoters.
    assert [(t.tag, t.detractors, t.passives, t.promoters) for t in found.tags] == [
        ("billing", 4, 0, 0),
        ("praise", 0, 0, 2),
    ]
    assert found.tags[0].examples == [keys[w] for w in reversed(detractors[1:4])]
    # "invoic" (invoice, invoices) is in 4 of 5 detractors' whys and no promoter's: it
    # leads; "fast" leads the promoters' side; "app", used by both, leads neither.
    top = found.detractor_terms[0]
    assert (top.term, top.detractors, top.promoters) == ("invoic", 4, 0)
    assert top.z > 0
    assert top.log_odds > 0
    assert top.examples == [keys[w] for w in reversed(detractors[:4])][:3]
    assert found.promoter_terms[0].term == "fast"
    assert found.promoter_terms[0].z < 0
    assert "app" not in {found.detractor_terms[0].term, found.promoter_terms[0].term}
    assert len(found.detractor_terms) <= 3
