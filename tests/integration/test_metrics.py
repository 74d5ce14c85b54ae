"""Metric queries over the real read models, built by the real domain services and the
projection runner: percentiles against PostgreSQL's own percentile_cont and an independent
interpolation, and hand-built feedback and delivery stories whose figures are worked out
by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.increment import Commit
from domain.services import (
    accept_decision,
    add_member,
    adopt_outcome,
    close_feedback_loop,
    decline_feedback,
    defer_feedback,
    define_outcome,
    form_team,
    mark_duplicate,
    mark_increment_failed,
    open_incident,
    own_repository,
    propose_decision,
    receive_feedback,
    record_increment,
    reopen_feedback,
    resolve_incident,
    roll_back_increment,
    triage_feedback,
)
from infra.eventstore import PostgresEventStore
from projections.catalog import all_projections
from projections.metrics import (
    SUMMARY,
    Figures,
    LeadTimeGroup,
    dora,
    dora_daily,
    figures,
    frequency_tier,
    lead_times,
    outcome_scorecards,
)
from projections.paging import InvalidQuery
from projections.runner import ProjectionRunner

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
H = 3600.0
D = 24 * H


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


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


def interpolated(values: Sequence[float], q: float) -> float:
    """The q-quantile by linear interpolation between closest ranks (what percentile_cont
    computes), written out independently of PostgreSQL."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def assert_figures(actual: Figures | LeadTimeGroup, values: Sequence[float]) -> None:
    assert actual.count == len(values)
    assert close(actual.mean, sum(values) / len(values))
    for name, q in (("p50", 0.5), ("p75", 0.75), ("p85", 0.85), ("p95", 0.95)):
        assert close(getattr(actual, name), interpolated(values, q)), name


async def reference(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, values: Sequence[float]
) -> Figures:
    """count, avg and percentile_cont over a literal VALUES list: PostgreSQL's own answer."""
    rows = ", ".join(f"(${i}::float8)" for i in range(1, len(values) + 1))
    r = await conn.fetchrow(
        "SELECT count(v)::int, avg(v)::float8, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY v), "
        "percentile_cont(0.75) WITHIN GROUP (ORDER BY v), "
        "percentile_cont(0.85) WITHIN GROUP (ORDER BY v), "
        f"percentile_cont(0.95) WITHIN GROUP (ORDER BY v) FROM (VALUES {rows}) AS t(v)",
        *values,
    )
    assert r is not None
    return Figures(count=r[0], mean=r[1], p50=r[2], p75=r[3], p85=r[4], p95=r[5])


def same(a: Figures | LeadTimeGroup, b: Figures) -> None:
    assert a.count == b.count
    for name in ("mean", "p50", "p75", "p85", "p95"):
        assert close(getattr(a, name), getattr(b, name)), name


# --- percentiles --------------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=1, max_size=300))
async def test_summary_sql_equals_percentile_cont(pool: asyncpg.Pool, values: list[float]) -> None:
    # The select list every metric query summarises with, over any set of durations,
    async with pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT {SUMMARY} FROM unnest($1::float8[]) AS t(span)", values)
        assert row is not None
        ours = figures(row["count"], row["mean"], row["percentiles"])
        # equals PostgreSQL's percentile_cont over a VALUES list, one fraction at a time,
        same(ours, await reference(conn, values))
    # and the interpolation written out in this test.
    assert_figures(ours, values)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=20 * 24 * 60),  # received, minutes after T0
            st.integers(min_value=0, max_value=30 * 86_400 * 10**6),  # time to triage, µs
        ),
        min_size=1,
        max_size=10,
    )
)
async def test_time_to_triage_percentiles_equal_percentile_cont(
    database_url: str,
    event_store: PostgresEventStore,
    pool: asyncpg.Pool,
    items: list[tuple[int, int]],
) -> None:
    # A fresh team per example receives and triages items with the generated spans,
    slug = f"team-{uuid4().hex[:10]}"
    await form_team(event_store, slug=slug, name=slug, formed_at=T0)
    spans = []
    for received_minutes, triage_us in items:
        received = at(minutes=received_minutes)
        triaged = received + timedelta(microseconds=triage_us)
        item = await receive_feedback(event_store, channel="web", text="x", received_at=received)
        await triage_feedback(event_store, item.id, team=slug, triaged_at=triaged)
        spans.append(triage_us / 1e6)
    await project(database_url, event_store)
    # and the lead-time query's figures for that team are PostgreSQL's and the test's own.
    async with pool.acquire() as conn:
        [group] = (await lead_times(conn, "triage", team=slug)).groups
        same(group, await reference(conn, spans))
    assert group.group == {}
    assert_figures(group, spans)


# --- feedback lead times: a hand-built story ----------------------------------------


class Story:
    """Ids of the feedback scenario (see `feedback_story`)."""

    def __init__(self) -> None:
        self.billing: UUID = uuid4()
        self.mobile: UUID = uuid4()
        self.self_service: UUID = uuid4()
        self.fast_app: UUID = uuid4()


async def feedback_story(store: PostgresEventStore) -> Story:
    """
    FB-1  email  received T0     triaged +2h (billing, outcome self-service), NPS 3
    FB-2  chat   received T0-1d  duplicate of FB-1 at +3h, NPS 10 → FB-1's first ask is T0-1d
    FB-3  web    received T0+1h  deferred at +2h, triaged +8d (billing, self-service), NPS 9
    FB-4  phone  received T0     triaged +1h (mobile, fast-app); DEC accepted +1d;
                                 shipped +3d (commit "Ships DEC-1"); reopened +4d
    FB-5  email  received T0+2d  never triaged
    FB-6  email  received T0     declined +5h, loop closed +6h
    """
    s = Story()
    s.billing = (await form_team(store, slug="billing", name="Billing", formed_at=at(-10))).id
    s.mobile = (await form_team(store, slug="mobile", name="Mobile", formed_at=at(-10))).id
    await own_repository(store, "mobile", repository="mobile-app", owned_at=at(-10))
    s.self_service = (
        await define_outcome(
            store,
            statement="Customers resolve billing questions without calling us",
            measure="share of billing contacts by phone",
            defined_at=at(-9),
        )
    ).id
    s.fast_app = (
        await define_outcome(
            store, statement="The app feels fast", measure="p95 screen load", defined_at=at(-8)
        )
    ).id
    await adopt_outcome(store, "billing", outcome_id=s.self_service, adopted_at=at(-9))
    await adopt_outcome(store, "mobile", outcome_id=s.fast_app, adopted_at=at(-8))

    fb1 = await receive_feedback(
        store, channel="email", text="Invoice PDF is empty", nps=3, received_at=T0
    )
    await triage_feedback(
        store, fb1.id, team="billing", outcome_id=s.self_service, triaged_at=at(hours=2)
    )
    fb2 = await receive_feedback(
        store, channel="chat", text="Empty invoice", nps=10, received_at=at(-1)
    )
    await mark_duplicate(store, fb2.id, original=fb1.id, marked_at=at(hours=3))

    fb3 = await receive_feedback(
        store, channel="web", text="Export to CSV", nps=9, received_at=at(hours=1)
    )
    await defer_feedback(store, fb3.id, until=date(2026, 3, 9), deferred_at=at(hours=2))
    await triage_feedback(
        store, fb3.id, team="billing", outcome_id=s.self_service, triaged_at=at(days=8)
    )

    fb4 = await receive_feedback(store, channel="phone", text="App is slow", received_at=T0)
    await triage_feedback(
        store, fb4.id, team="mobile", outcome_id=s.fast_app, triaged_at=at(hours=1)
    )
    decision = await propose_decision(
        store,
        team="mobile",
        title="Cache the home screen",
        rationale="most complaints are about start-up",
        feedback=[fb4.id],
        proposed_at=at(hours=12),
    )
    await accept_decision(store, decision.id, decided_at=at(days=1))
    await record_increment(
        store,
        service="mobile-app",
        environment="production",
        commit_sha="a1" * 20,
        finished_at=at(days=3),
        commits=[Commit(sha="a1" * 20, authored_at=at(days=2), message=f"Ships {decision.key}")],
    )
    await reopen_feedback(store, fb4.id, reason="still slow", reopened_at=at(days=4))

    await receive_feedback(store, channel="email", text="Dark mode", received_at=at(days=2))

    fb6 = await receive_feedback(store, channel="email", text="Fax support", received_at=T0)
    await decline_feedback(store, fb6.id, reason="no fax", declined_at=at(hours=5))
    await close_feedback_loop(store, fb6.id, how="email", closed_at=at(hours=6))
    return s


async def test_feedback_lead_times_follow_the_story(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    story = await feedback_story(event_store)
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        # Time to triage: FB-1 from its duplicate's earlier ask (1d + 2h), FB-3 through its
        # deferral (8d - 1h), FB-4 (1h); the duplicate FB-2 does not count on its own.
        triage = await lead_times(conn, "triage")
        [all_items] = triage.groups
        assert (triage.measure, triage.unit, all_items.group) == ("triage", "seconds", {})
        assert_figures(all_items, [26 * H, 8 * D - H, H])
        assert all_items.p50 == 26 * H
        assert all_items.p75 == pytest.approx(108.5 * H)

        # Grouped by team: named by slug and id, ordered by slug.
        by_team = (await lead_times(conn, "triage", group_by="team")).groups
        assert [g.group for g in by_team] == [
            {"team": "billing", "team_id": str(story.billing)},
            {"team": "mobile", "team_id": str(story.mobile)},
        ]
        assert [g.count for g in by_team] == [2, 1]
        assert by_team[0].p50 == pytest.approx((26 * H + 8 * D - H) / 2)

        # Grouped by week of the span's end: two in the week of T0, FB-3 the next week.
        by_week = (await lead_times(conn, "triage", group_by="week")).groups
        assert [(g.group, g.count) for g in by_week] == [
            ({"week": "2026-03-02"}, 2),
            ({"week": "2026-03-09"}, 1),
        ]

        # The window selects spans by when they ended; filters narrow the items.
        later = await lead_times(conn, "triage", start=at(days=1), end=at(days=30))
        assert (later.groups[0].count, later.groups[0].p50) == (1, 8 * D - H)
        email = await lead_times(conn, "triage", channel="email")
        assert (email.groups[0].count, email.groups[0].p50) == (1, 26 * H)
        mobile = await lead_times(conn, "triage", team="mobile")
        assert mobile.groups[0].count == 1
        outcome = await lead_times(conn, "triage", outcome=story.self_service)
        assert outcome.groups[0].count == 2
        by_outcome = (await lead_times(conn, "triage", group_by="outcome")).groups
        assert [g.group["outcome"] for g in by_outcome] == [
            "Customers resolve billing questions without calling us",
            "The app feels fast",
        ]

        # Time to decision: FB-4 accepted after 1d, FB-6 declined after 5h.
        assert_figures((await lead_times(conn, "decision")).groups[0], [D, 5 * H])
        # Time to ship: FB-4, first shipped 3d after it was received (reopening keeps it).
        assert_figures((await lead_times(conn, "ship")).groups[0], [3 * D])
        # Time to close the loop: FB-6, 6h.
        assert_figures((await lead_times(conn, "close_loop")).groups[0], [6 * H])

        # Open age at T0+10d: FB-1 (from T0-1d), FB-3, the reopened FB-4 and FB-5.
        now = at(days=10)
        open_age = await lead_times(conn, "open_age", now=now)
        assert_figures(open_age.groups[0], [11 * D, 10 * D - H, 10 * D, 8 * D])
        # The window does not apply to open age (a snapshot at now); weeks are of the ask.
        assert (await lead_times(conn, "open_age", now=now, end=at(-30))).groups[0].count == 4
        weeks = (await lead_times(conn, "open_age", now=now, group_by="week")).groups
        assert [(g.group["week"], g.count) for g in weeks] == [
            ("2026-02-23", 1),
            ("2026-03-02", 3),
        ]

        # Nothing matched: one empty group without a group_by, no groups with one.
        empty = await lead_times(conn, "ship", team="billing")
        assert [(g.group, g.count, g.mean, g.p50) for g in empty.groups] == [({}, 0, None, None)]
        assert (await lead_times(conn, "ship", team="billing", group_by="team")).groups == []

        with pytest.raises(InvalidQuery) as bad:
            await lead_times(conn, "cycle")
        assert bad.value.field == "measure"
        with pytest.raises(InvalidQuery):
            await lead_times(conn, "triage", group_by="month")


async def test_outcome_scorecards(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    story = await feedback_story(event_store)
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        billing, app = await outcome_scorecards(conn)
    # Billing self-service: FB-1 (with its duplicate FB-2) and FB-3, both still open;
    # NPS over FB-1's 3, FB-2's 10 and FB-3's 9: (2 promoters - 1 detractor) / 3.
    assert billing.id == story.self_service
    assert [t.slug for t in billing.teams] == ["billing"]
    # Demand counts the asks; none names its customer, so none counts as a customer (or a
    # detractor among them), while every score counts as an NPS response.
    assert (billing.items, billing.demand, billing.open_items) == (2, 3, 2)
    assert (billing.customers, billing.detractors) == (0, 0)
    assert (billing.nps_responses, billing.nps_promoters, billing.nps_detractors) == (3, 2, 1)
    assert billing.nps == pytest.approx(100 / 3)
    assert (billing.time_to_ship.count, billing.time_to_ship.p50) == (0, None)
    # Fast app: FB-4, shipped after 3 days and reopened, no scores.
    assert (app.items, app.demand, app.open_items) == (1, 1, 1)
    assert (app.nps_responses, app.nps) == (0, None)
    assert (app.time_to_ship.count, app.time_to_ship.p50) == (1, 3 * D)


# --- DORA: a hand-built delivery story ----------------------------------------------


def sha(n: int) -> str:
    return f"{n:02x}" * 20


async def deploy(
    store: PostgresEventStore,
    service: str,
    finished: datetime,
    commits: Sequence[tuple[int, datetime]],
    *,
    environment: str = "production",
    succeeded: bool = True,
) -> UUID:
    head = commits[-1][0]
    written = await record_increment(
        store,
        service=service,
        environment=environment,
        commit_sha=sha(head),
        started_at=finished - timedelta(minutes=10),
        finished_at=finished,
        succeeded=succeeded,
        commits=[
            Commit(sha=sha(n), authored_at=when, message=f"change {n}") for n, when in commits
        ],
    )
    return written.id


async def delivery_story(store: PostgresEventStore) -> None:
    """
    payments-api (team payments), production:
      D1 T0     ok          commit 1 authored T0-2d
      D2 T0+1d  ok          commit 2 authored T0+1d-3h
      D3 T0+2d  failed      commit 3 authored T0+2d-1h
      D4 T0+3d  ok          commits 3 and 4 (authored T0+3d-30m)
      D5 T0+4d  ok, then rolled back; commit 5 authored T0+4d-2h
      D6 T0+7d  ok          commits 5 and 6 (authored T0+6d)
      a staging deployment at T0+5d (not counted)
    incidents:
      I1 opened T0+3d+2h, caused by commit 2 (so D2, not D4), resolved 3h later
      I2 opened T0+7d+1h, no cause given (so D6 by time), resolved 30m later
    search-api (team search): D7 T0+1d ok; I3 opened T0+1d+1h, resolved 1h later (D7).
    """
    await form_team(store, slug="payments", name="Payments", formed_at=at(-30))
    await form_team(store, slug="search", name="Search", formed_at=at(-30))
    await add_member(store, "payments", handle="ada", skills=["go"], joined_at=at(-30))
    await own_repository(store, "payments", repository="payments-api", owned_at=at(-30))
    await own_repository(store, "search", repository="search-api", owned_at=at(-30))

    await deploy(store, "payments-api", T0, [(1, at(-2))])
    await deploy(store, "payments-api", at(1), [(2, at(1, hours=-3))])
    await deploy(store, "payments-api", at(2), [(3, at(2, hours=-1))], succeeded=False)
    await deploy(store, "payments-api", at(3), [(3, at(2, hours=-1)), (4, at(3, minutes=-30))])
    d5 = await deploy(store, "payments-api", at(4), [(5, at(4, hours=-2))])
    await roll_back_increment(store, d5, reason="latency", rolled_back_at=at(4, hours=1))
    await deploy(store, "payments-api", at(5), [(9, at(5, hours=-1))], environment="staging")
    await deploy(store, "payments-api", at(7), [(5, at(4, hours=-2)), (6, at(6))])
    await deploy(store, "search-api", at(1), [(7, at(1, hours=-5))])

    i1 = await open_incident(
        store,
        service="payments-api",
        title="refunds fail",
        opened_at=at(3, hours=2),
        caused_by_sha=sha(2),
    )
    await resolve_incident(store, i1.id, resolved_at=at(3, hours=5))
    i2 = await open_incident(store, service="payments-api", title="5xx", opened_at=at(7, hours=1))
    await resolve_incident(store, i2.id, resolved_at=at(7, hours=1.5))
    i3 = await open_incident(store, service="search-api", title="slow", opened_at=at(1, hours=1))
    await resolve_incident(store, i3.id, resolved_at=at(1, hours=2))


async def test_dora_follows_the_delivery_story(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await delivery_story(event_store)
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        result = await dora(conn, team="payments", now=at(14))

    # Deployment frequency: D1, D2, D4 and D6 succeeded, on 4 days, over the two weeks
    # from the first deployment to now: 2 a week, fewer than 5 days a week, so high.
    df = result.deployment_frequency
    assert (df.deployments, df.deployment_days, df.per_week, df.tier) == (4, 4, 2.0, "high")

    # Lead time for changes, per commit to its first successful production deployment:
    # 1: 48h, 2: 3h, 3: 25h (D3 failed, D4 carried it), 4: 0.5h,
    # 5: 74h (D5 was rolled back, D6 carried it), 6: 24h. Median 24.5h: high.
    lt = result.lead_time_for_changes
    spans = [48 * H, 3 * H, 25 * H, 0.5 * H, 74 * H, 24 * H]
    assert lt.count == 6
    assert lt.mean == pytest.approx(sum(spans) / 6)
    assert lt.p50 == pytest.approx(24.5 * H)
    assert lt.p85 == pytest.approx(interpolated(spans, 0.85))
    assert lt.p85 == pytest.approx(54.5 * H)
    assert lt.tier == "high"

    # Change failure rate: of 6 production deployments, D3 failed, D5 was rolled back,
    # I1 names a commit of D2 and I2 follows D6: 4 / 6, low.
    cfr = result.change_failure_rate
    assert (cfr.failed, cfr.deployments, cfr.tier) == (4, 6, "low")
    assert cfr.rate == pytest.approx(4 / 6)

    # Recovery: I1 from D2's finish (T0+1d) to T0+3d+5h = 53h; I2 from D6 = 1.5h.
    # Median 27.25h: medium. Time to restore: 3h and 0.5h, median 1.75h: high.
    assert result.recovery_time.count == 2
    assert result.recovery_time.p50 == pytest.approx((53 * H + 1.5 * H) / 2)
    assert result.recovery_time.mean == result.recovery_time.p50
    assert result.recovery_time.tier == "medium"
    assert result.time_to_restore.count == 2
    assert result.time_to_restore.p50 == pytest.approx(1.75 * H)
    assert result.time_to_restore.tier == "high"


async def test_dora_window_scope_and_daily_measures(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await delivery_story(event_store)
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        # From T0+3d to T0+14d: D4, D5 and D6 finished in it (D4 and D6 succeeded) over
        # 11 days; D5 rolled back and D6 failed by I2; commits 3, 4, 5 and 6 deployed.
        window = await dora(conn, service="payments-api", start=at(3), end=at(14))
        df = window.deployment_frequency
        assert (df.deployments, df.deployment_days, df.tier) == (2, 2, "high")
        assert df.per_week == pytest.approx(2 / (11 / 7))
        assert (window.change_failure_rate.failed, window.change_failure_rate.deployments) == (
            2,
            3,
        )
        assert window.lead_time_for_changes.count == 4
        assert window.lead_time_for_changes.p50 == pytest.approx(24.5 * H)
        assert window.time_to_restore.count == 2

        # Team search: D7 only, failed by I3 (by time); recovery 1h after D7 finished.
        search = await dora(conn, team="search", now=at(14))
        assert search.deployment_frequency.deployments == 1
        assert search.deployment_frequency.tier == "medium"  # 1 in 13 days
        assert (search.change_failure_rate.failed, search.change_failure_rate.rate) == (1, 1.0)
        assert search.recovery_time.p50 == 2 * H
        assert search.recovery_time.tier == "high"
        assert search.time_to_restore.p50 == H

        # No data: zeros and null tiers.
        nothing = await dora(conn, team="nobody")
        assert nothing.deployment_frequency.deployments == 0
        assert nothing.deployment_frequency.tier is None
        assert nothing.change_failure_rate.rate is None
        assert nothing.change_failure_rate.tier is None
        assert nothing.lead_time_for_changes.tier is None
        assert nothing.recovery_time.count == 0
        assert nothing.time_to_restore.tier is None

        # Per day: I1 failed D2's day (tied by sha), not D4's (the last before it opened).
        days = await dora_daily(conn, team="payments")
        assert [(d.day, d.team, d.deployments, d.succeeded, d.failed) for d in days] == [
            ("2026-03-02", "payments", 1, 1, 0),
            ("2026-03-03", "payments", 1, 1, 1),
            ("2026-03-04", "payments", 1, 0, 1),
            ("2026-03-05", "payments", 1, 1, 0),
            ("2026-03-06", "payments", 1, 0, 1),
            ("2026-03-09", "payments", 1, 1, 1),
        ]
        everyone = await dora_daily(conn, start=at(1), end=at(2))
        assert [(d.service, d.deployments) for d in everyone] == [
            ("payments-api", 1),
            ("search-api", 1),
        ]


async def test_elite_delivery_and_explicit_ties(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # Five deployments on five days of one week, each commit an hour old: elite.
    for day in range(5):
        await deploy(event_store, "edge", at(day), [(day + 1, at(day, hours=-1))])
    # A sixth, a failure marked after the fact, and an incident naming its increment.
    late = await deploy(event_store, "edge", at(5), [(6, at(5, hours=-1))])
    await mark_increment_failed(event_store, late, reason="bad config", failed_at=at(5, hours=1))
    incident = await open_incident(
        event_store, service="edge", title="down", opened_at=at(6), caused_by_increment=late
    )
    await resolve_incident(event_store, incident.id, resolved_at=at(6, minutes=20))
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        week = await dora(conn, service="edge", end=at(4, hours=1), now=at(7))
        full = await dora(conn, service="edge", now=at(7))
    # The first five: 5 deployment days in the (minimum) one-week window.
    assert week.deployment_frequency.deployment_days == 5
    assert week.deployment_frequency.per_week == 5.0
    assert week.deployment_frequency.tier == "elite"
    assert week.lead_time_for_changes.p50 == H
    assert week.lead_time_for_changes.tier == "elite"
    assert (week.change_failure_rate.failed, week.change_failure_rate.tier) == (0, "elite")
    # All six: the marked failure counts once although an incident names it too; its
    # commit never reached production successfully. Recovery from its finish: 1d 20m.
    assert (full.change_failure_rate.failed, full.change_failure_rate.deployments) == (1, 6)
    assert full.change_failure_rate.tier == "low"
    assert full.lead_time_for_changes.count == 5
    assert full.recovery_time.p50 == D + 20 * 60
    assert full.time_to_restore.p50 == 20 * 60
    assert full.time_to_restore.tier == "elite"


def test_tier_thresholds() -> None:
    # Deployment frequency over a window of weeks.
    assert frequency_tier(0, 0, 1.0) is None
    assert frequency_tier(5, 5, 1.0) == "elite"
    assert frequency_tier(20, 4, 1.0) == "high"
    assert frequency_tier(1, 1, 30 / 7) == "medium"
    assert frequency_tier(1, 1, 31 / 7) == "low"


async def test_a_rolled_back_first_deployment_passes_its_commits_to_the_next_one(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    # Commit 1 goes out in three successful deployments; the first is then rolled back.
    first = await deploy(event_store, "api", at(1), [(1, T0)])
    await deploy(event_store, "api", at(2), [(1, T0), (2, at(1))])
    await deploy(event_store, "api", at(3), [(1, T0), (3, at(2))])
    await roll_back_increment(event_store, first, reason="errors", rolled_back_at=at(3, hours=1))
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        result = await dora(conn, service="api", now=at(7))
    # Commit 1's lead time now runs to the next successful deployment (2 days), once;
    # commits 2 and 3 took a day each.
    assert result.lead_time_for_changes.count == 3
    assert result.lead_time_for_changes.mean == pytest.approx(4 * D / 3)
    assert result.lead_time_for_changes.p50 == D
    assert result.change_failure_rate.failed == 1
