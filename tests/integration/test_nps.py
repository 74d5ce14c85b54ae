"""NPS over the real read models: a small set of survey answers whose figures, margins,
why-themes and follow-up loop are worked out by hand in the comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from domain.services import (
    close_feedback_loop,
    decline_feedback,
    define_outcome,
    follow_up_feedback,
    form_team,
    mark_duplicate,
    receive_feedback,
    triage_feedback,
    undo_feedback,
)
from infra.eventstore import PostgresEventStore
from projections.catalog import all_projections
from projections.nps import Selection, follow_up_queue, follow_ups, nps, why
from projections.paging import InvalidQuery
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
    # A misspelt parameter is refused by name, not ignored (server/strict.py).
    for path in ("/api/metrics/nps", "/api/metrics/nps/why", "/api/metrics/nps/follow-ups"):
        typo = await api.get(path, params={"segmnt": "smb"})
        assert typo.status_code == 400, path
        assert "segmnt" in typo.text
    # The why of the same selection.
    themes = await api.get("/api/metrics/nps/why", params={"segment": "SMB", "limit": "2"})
    assert themes.status_code == 200, themes.text
    assert (themes.json()["responses"], themes.json()["detractors"]) == (1, 1)
    assert (await api.get("/api/metrics/nps/why", params={"limit": "0"})).status_code == 400
    # The detractor is owed a follow-up, and counts in the follow-up figure.
    queue = (await api.get("/api/metrics/nps/follow-ups")).json()
    assert (queue["total"], queue["items"][0]["score"]) == (1, 2)
    timing = (await api.get("/api/metrics/nps/follow-up-time", params={"group_by": "team"})).json()
    assert [(g["group"], g["detractors"], g["due"]) for g in timing["groups"]] == [
        ({"team": None, "team_id": None}, 1, 1)
    ]


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


async def test_the_follow_up_queue_and_its_48_hour_share(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    store = event_store
    for slug in ("billing", "support"):
        await form_team(store, slug=slug, name=slug.title(), formed_at=JAN - timedelta(30))

    def t(hours: float) -> datetime:
        return JAN + timedelta(hours=hours)

    # d1 (score 2) is triaged, declined and told 20 h after it answered: within 48 h.
    d1 = await answer(store, 2, "billing", t(0), "Wrong invoice")
    await triage_feedback(store, d1, team="billing", triaged_at=t(0.5))
    # A promoter is owed nothing.
    await answer(store, 10, "billing", t(0), "Great")
    # d2 (score 5) is told 72 h after it answered: followed up, but late.
    d2 = await answer(store, 5, "billing", t(1), "Slow refunds")
    await triage_feedback(store, d2, team="billing", triaged_at=t(1.5))
    await decline_feedback(store, d2, reason="Works as designed", declined_at=t(2))
    # d3 (score 0) is triaged and never told.
    d3 = await answer(store, 0, "billing", t(2), "Nobody answers")
    await triage_feedback(store, d3, team="billing", triaged_at=t(2.5))
    # d4 (score 6) duplicates d1, and is followed up when d1's loop closes: 17 h.
    d4 = await answer(store, 6, "billing", t(3), "Invoice wrong again")
    await mark_duplicate(store, d4, original=d1, marked_at=t(4))
    await decline_feedback(store, d1, reason="Explained the invoice", declined_at=t(5))
    await close_feedback_loop(store, d1, how="call", closed_at=t(20))
    await close_feedback_loop(store, d2, how="email", closed_at=t(73))
    # d5 (score 4, support) answered an hour before "now": waiting, but not yet late.
    now = t(10 * 24)
    d5 = await answer(store, 4, "support", now - timedelta(hours=1), "App crashed")
    await triage_feedback(store, d5, team="support", triaged_at=now - timedelta(minutes=30))
    await project(database_url, store)

    weeks = Selection(
        start=datetime(2026, 1, 12, tzinfo=UTC), end=datetime(2026, 1, 26, tzinfo=UTC)
    )
    async with pool.acquire() as conn:
        # The queue: d3 and d5, oldest first; billing's own queue is d3 alone.
        queue = await follow_up_queue(conn, Selection(), now=now)
        assert (queue.total, [d.key for d in queue.items]) == (2, [d3, d5])
        assert queue.items[0].team == "billing"
        assert queue.items[0].waiting == (now - t(2)).total_seconds()
        billing = await follow_up_queue(conn, Selection(team="billing"), now=now)
        assert [d.key for d in billing.items] == [d3]
        assert (await follow_up_queue(conn, Selection(), now=now, limit=1)).total == 2

        # The figure: 5 detractors, 3 followed up (d1 20 h, d2 72 h, d4 17 h); due: all but
        # d5 (4); within 48 h: d1 and d4 -> share 2/4. Spans sorted 17, 20, 72 h: p50 20 h,
        # p85 at rank 0.85 * 2 = 1.7: 20 + 0.7 * 52 = 56.4 h; mean 109/3 h.
        (total,) = (await follow_ups(conn, weeks, now=now)).groups
        assert (total.detractors, total.followed_up, total.due, total.within_48h) == (5, 3, 4, 2)
        assert total.share_within_48h == 0.5
        assert total.p50 == 20 * 3600
        assert total.p85 == pytest.approx(56.4 * 3600)
        assert total.mean == pytest.approx(109 / 3 * 3600)

        # Per team and week: billing's four in the week of 12 January, support's one (not
        # yet due) in the week of 19 January; empty weeks present.
        per = await follow_ups(conn, weeks, group_by="team,week", now=now)
        assert [
            (g.group["team"], g.group["week"], g.detractors, g.due, g.share_within_48h)
            for g in per.groups
        ] == [
            ("billing", "2026-01-12", 4, 4, 0.5),
            ("billing", "2026-01-19", 0, 0, None),
            ("support", "2026-01-12", 0, 0, None),
            ("support", "2026-01-19", 1, 0, None),
        ]


async def test_segment_and_customer_filter_lead_times_the_list_and_outcomes(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    store = event_store
    await form_team(store, slug="billing", name="Billing", formed_at=JAN - timedelta(30))
    outcome = await define_outcome(
        store, statement="Bills are right", measure="billing calls", defined_at=JAN - timedelta(9)
    )

    async def item(segment: str, customer: str, hours: float) -> str:
        return await answer(
            store, None, "billing", JAN + timedelta(hours=hours), segment=segment, customer=customer
        )

    # a (enterprise) triaged after 2 h, c (Enterprise, another case) after 4 h, b (smb)
    # after 10 h; d (smb, kim) duplicates b, so kim asked b too.
    a = await item("enterprise", "ceo@big.example", 0)
    b = await item("smb", "sam@small.example", 0)
    c = await item("Enterprise", "cto@big.example", 1)
    d = await item("smb", "kim@small.example", 2)
    for key, hours in ((a, 2), (c, 5), (b, 10)):
        await triage_feedback(
            store,
            key,
            team="billing",
            outcome_id=outcome.id,
            triaged_at=JAN + timedelta(hours=hours),
        )
    await mark_duplicate(store, d, original=b, marked_at=JAN + timedelta(hours=11))
    head = await store.recorder.max_notification_id()

    async def triage(**params: str) -> dict[str, object]:
        answered = await api.get(
            "/api/metrics/lead-time", params={"measure": "triage", "after": str(head), **params}
        )
        assert answered.status_code == 200, answered.text
        group: dict[str, object] = answered.json()["groups"][0]
        return group

    # Enterprise: a (2 h) and c (4 h): count 2, p50 3 h, whatever the case of the segment.
    enterprise = await triage(segment="ENTERPRISE")
    assert (enterprise["count"], enterprise["p50"]) == (2, 3 * 3600)
    # SMB: b alone (10 h); its duplicate d is counted on b.
    smb = await triage(segment="smb")
    assert (smb["count"], smb["p50"]) == (1, 10 * 3600)
    # Kim asked through d, merged into b: b's 10 h.
    kim = await triage(customer="Kim@Small.example")
    assert (kim["count"], kim["p50"]) == (1, 10 * 3600)
    # An unknown segment or customer answers an empty result, not everything.
    assert (await triage(segment="government"))["count"] == 0
    assert (await triage(customer="nobody@example.com"))["count"] == 0

    # The feedback list, newest first.
    async def listed(**params: str) -> list[str]:
        page = await api.get("/api/feedback", params=params)
        assert page.status_code == 200, page.text
        return [i["key"] for i in page.json()["items"]]

    assert await listed(segment="enterprise") == [c, a]
    assert await listed(customer="kim@small.example") == [d, b]
    assert await listed(segment="government") == []

    # Outcome scorecards count the enterprise items only.
    cards = await api.get("/api/metrics/outcomes", params={"segment": "enterprise"})
    assert [(o["statement"], o["items"]) for o in cards.json()] == [("Bills are right", 2)]
    none = await api.get("/api/metrics/outcomes", params={"customer": "nobody@example.com"})
    assert [o["items"] for o in none.json()] == [0]


async def test_an_undone_follow_up_puts_the_detractor_back_in_the_queue(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    store = event_store
    await form_team(store, slug="billing", name="Billing", formed_at=JAN - timedelta(30))
    # A detractor is triaged, declined and told the next day.
    key = await answer(store, 1, "billing", JAN, "Nobody answers")
    await triage_feedback(store, key, team="billing", triaged_at=JAN + timedelta(hours=1))
    await decline_feedback(store, key, reason="Known", declined_at=JAN + timedelta(hours=2))
    await close_feedback_loop(store, key, how="call", closed_at=JAN + timedelta(hours=20))
    await project(database_url, store)
    now = JAN + timedelta(days=5)
    async with pool.acquire() as conn:
        assert (await follow_up_queue(conn, Selection(), now=now)).total == 0
    # The loop closing was a mistake and is undone: the detractor waits again, and the
    # follow-up figure no longer counts it.
    await undo_feedback(store, key)
    await project(database_url, store)
    async with pool.acquire() as conn:
        queue = await follow_up_queue(conn, Selection(), now=now)
        (total,) = (await follow_ups(conn, Selection(), now=now)).groups
    assert [d.key for d in queue.items] == [key]
    assert (total.detractors, total.followed_up, total.due, total.within_48h) == (1, 0, 1, 0)


async def test_a_call_back_before_anything_ships_is_the_follow_up(
    api: httpx.AsyncClient, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    store = event_store

    async def caught_up() -> None:
        # The API's own projections have read every event so far.
        # (`after` answers 504 when they take longer than its wait: ask again.)
        head = str(await store.recorder.max_notification_id())
        for _ in range(20):
            read = await api.get("/api/metrics/nps/follow-ups", params={"after": head})
            if read.status_code != 504:
                break
        assert read.status_code == 200, read.text

    await form_team(store, slug="billing", name="Billing", formed_at=JAN - timedelta(30))

    def t(hours: float) -> datetime:
        return JAN + timedelta(hours=hours)

    # Two detractors answer and billing triages them: nothing is shipped or declined, so
    # neither loop can close yet. A third (d4, another customer) duplicates d1.
    d1 = await answer(store, 3, "billing", t(0), "Nobody answers", customer="ann@a.example")
    d2 = await answer(store, 1, "billing", t(1), "Invoice wrong", customer="bob@b.example")
    d4 = await answer(store, 5, "billing", t(2), "Nobody calls", customer="cy@c.example")
    for key in (d1, d2):
        await triage_feedback(store, key, team="billing", triaged_at=t(1.5))
    await mark_duplicate(store, d4, original=d1, marked_at=t(3))
    # d1's customer is called back 30 h after answering.
    await follow_up_feedback(store, d1, how="call", followed_up_at=t(30))
    await caught_up()
    now = t(10 * 24)
    async with pool.acquire() as conn:
        # d1 waits no more; d4's customer is not d1's, so calling Ann did not follow d4 up.
        queue = await follow_up_queue(conn, Selection(), now=now)
        assert [d.key for d in queue.items] == [d2, d4]

    # d2 is called back after 60 h (late), d4 after 38 h.
    await follow_up_feedback(store, d2, how="call", followed_up_at=t(61))
    await follow_up_feedback(store, d4, how="email", followed_up_at=t(40))
    await caught_up()
    async with pool.acquire() as conn:
        assert (await follow_up_queue(conn, Selection(), now=now)).total == 0
        # 3 detractors, all followed up and due; within 48 h: d1 (30 h) and d4 (38 h).
        # Spans 30, 38, 60 h: p50 38 h; p85 at rank 1.7: 38 + 0.7 * 22 = 53.4 h.
        (total,) = (await follow_ups(conn, Selection(), now=now)).groups
    assert (total.detractors, total.followed_up, total.due, total.within_48h) == (3, 3, 3, 2)
    assert total.share_within_48h == pytest.approx(2 / 3)
    assert total.p50 == 38 * 3600
    assert total.p85 == pytest.approx(53.4 * 3600)

    # Over HTTP: a new detractor is called back while its item is still new.
    d5 = await answer(store, 0, "billing", t(24 * 8), "Cancelled my plan")
    done = await api.post(f"/api/feedback/{d5}/follow-up", json={"how": "Call", "note": "Sorry"})
    assert done.status_code == 201, done.text
    after = {"after": str(done.json()["position"])}
    item = (await api.get(f"/api/feedback/{d5}", params=after)).json()["item"]
    assert item["status"] == "new"
    assert item["followed_up_at"] is not None
    queue_now = (await api.get("/api/metrics/nps/follow-ups", params=after)).json()
    assert queue_now["total"] == 0
    # Bad input is a problem naming the field; the item is unchanged.
    bad = await api.post(f"/api/feedback/{d5}/follow-up", json={"how": ""})
    assert bad.status_code in (400, 422), bad.text
    assert bad.json()["field"] == "how"
