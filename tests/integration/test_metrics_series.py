"""DORA and feedback lead times per week and month, worked out by hand from the stories of
test_metrics.py; the default 12-week window; the benchmark year and the minimum sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg
import pytest

from infra.eventstore import PostgresEventStore
from projections.metrics import dora, lead_times
from projections.paging import InvalidQuery
from projections.series import dora_series, dora_window, lead_time_series, periods
from tests.integration.test_metrics import (
    D,
    H,
    at,
    delivery_story,
    feedback_story,
    interpolated,
    project,
)

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)  # T0's week
LATER = datetime(2026, 3, 16, tzinfo=UTC)  # two weeks on


def test_periods_cover_the_window_clipped_to_it() -> None:
    # Weeks start on Monday; the first and last are clipped to the window.
    assert periods(at(1), at(9), "week") == [
        ("2026-03-02", at(1), datetime(2026, 3, 9, tzinfo=UTC)),
        ("2026-03-09", datetime(2026, 3, 9, tzinfo=UTC), at(9)),
    ]
    # Months are calendar months, December rolls into January.
    start, end = datetime(2025, 12, 15, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert [p[0] for p in periods(start, end, "month")] == ["2025-12", "2026-01"]
    with pytest.raises(InvalidQuery) as bad:
        periods(start, end, "day")
    assert bad.value.field == "interval"
    with pytest.raises(InvalidQuery):
        periods(datetime(2000, 1, 1, tzinfo=UTC), end, "week")  # more than 260 weeks


async def test_dora_per_week_and_month(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await delivery_story(event_store)
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        weekly = await dora_series(
            conn, "week", team="payments", start=MONDAY, end=LATER, now=at(14)
        )
        monthly = await dora_series(
            conn,
            "month",
            team="payments",
            start=datetime(2026, 2, 15, tzinfo=UTC),
            end=LATER,
            now=at(14),
        )
        whole = await dora(conn, team="payments", start=MONDAY, end=LATER, minimum_sample=True)

    assert [p.period for p in weekly.periods] == ["2026-03-02", "2026-03-09"]
    first, second = weekly.periods

    # Week of T0: D1, D2, D4 succeeded (D3 failed, D5 rolled back), on 3 days; too few
    # in one week to give a tier.
    df = first.deployment_frequency
    assert (df.deployments, df.deployment_days, df.per_week, df.tier) == (3, 3, 3.0, None)
    assert df.tier_reason is not None
    assert "too few deployments" in df.tier_reason
    # D1..D5 in production; D3 failed, D5 rolled back, D2 caused I1: 3 of 5, low.
    cfr = first.change_failure_rate
    assert (cfr.failed, cfr.deployments, cfr.rate, cfr.tier) == (3, 5, 0.6, "low")
    # Commits 1 (48h), 2 (3h), 3 (25h, via D4), 4 (0.5h); commit 5 waits for D6.
    lt = first.lead_time_for_changes
    assert (lt.count, lt.p50, lt.tier) == (
        4,
        interpolated([48 * H, 3 * H, 25 * H, 0.5 * H], 0.5),
        None,
    )
    assert lt.p50 == 14 * H
    assert lt.tier_reason == "too few changes to judge: 4, a tier needs at least 5"
    # I1 opened this week: D2's finish to its resolution, 53h; opened to resolved 3h.
    assert (first.recovery_time.count, first.recovery_time.p50) == (1, 53 * H)
    assert (first.time_to_restore.count, first.time_to_restore.p50) == (1, 3 * H)

    # The next week: D6 only, failed by I2 (tied by time); commits 5 (74h) and 6 (24h).
    assert second.deployment_frequency.deployments == 1
    assert (second.change_failure_rate.failed, second.change_failure_rate.deployments) == (1, 1)
    assert second.change_failure_rate.tier is None  # one deployment is no rate
    assert second.lead_time_for_changes.count == 2
    assert second.lead_time_for_changes.p50 == pytest.approx(49 * H)
    assert second.recovery_time.p50 == 1.5 * H
    assert second.time_to_restore.p50 == 0.5 * H

    # The series adds up to the window.
    assert whole.deployment_frequency.deployments == 4
    assert whole.change_failure_rate.deployments == 6
    assert whole.lead_time_for_changes.count == 6

    # Monthly from mid-February: February is present and empty, March holds everything.
    assert [p.period for p in monthly.periods] == ["2026-02", "2026-03"]
    february, march = monthly.periods
    assert february.window is not None
    assert (february.window.start, february.window.end) == (
        datetime(2026, 2, 15, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert february.deployment_frequency.deployments == 0
    assert february.deployment_frequency.per_week == 0.0
    assert february.deployment_frequency.tier is None
    assert february.change_failure_rate.rate is None
    assert february.lead_time_for_changes.p50 is None
    assert february.recovery_time.count == 0
    assert march.change_failure_rate == whole.change_failure_rate
    assert march.lead_time_for_changes == whole.lead_time_for_changes


async def test_the_default_window_is_the_last_12_weeks(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await delivery_story(event_store)
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        # Asked 12 weeks after T0+1d: only D2 onwards are in the window.
        now = at(1) + timedelta(weeks=12)
        recent = await dora_window(conn, team="payments", now=now)
        # An explicit from/to is used as given, and the answer says no default applied.
        given = await dora_window(conn, team="payments", start=at(-1), end=now, now=now)
    assert recent.window is not None
    assert (recent.window.start, recent.window.end) == (at(1), now)
    assert recent.window.default == "the last 12 weeks (no from/to given)"
    # D1 finished before the window: 3 of the 4 successful deployments, over 12 weeks.
    assert recent.deployment_frequency.deployments == 3
    assert recent.deployment_frequency.per_week == pytest.approx(3 / 12)
    assert recent.deployment_frequency.tier == "medium"  # 3 in 84 days: at least monthly
    assert given.window is not None
    assert given.window.default is None
    assert given.deployment_frequency.deployments == 4


async def test_the_benchmark_year_changes_the_tier(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await delivery_story(event_store)
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        # Eight weeks from T0's Monday: long enough for a frequency tier.
        end = MONDAY + timedelta(weeks=8)
        by_2023 = await dora_window(conn, team="payments", start=MONDAY, end=end, now=end)
        by_2021 = await dora_window(
            conn, team="payments", start=MONDAY, end=end, now=end, benchmarks="2021"
        )
    # Lead time p50 24.5h over 6 commits: high in both (under a week, over an hour).
    assert by_2023.lead_time_for_changes.tier == by_2021.lead_time_for_changes.tier == "high"
    # 4 of 6 deployments failed: low in both tables.
    assert by_2023.change_failure_rate.tier == by_2021.change_failure_rate.tier == "low"
    # 4 successful deployments in 8 weeks: fewer than weekly but at least monthly, which is
    # medium by 2023 and high by 2021.
    assert by_2023.deployment_frequency.tier == "medium"
    assert by_2021.deployment_frequency.tier == "high"
    assert by_2023.benchmarks == "2023"
    assert by_2021.benchmarks == "2021"


async def test_lead_times_per_week(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await feedback_story(event_store)
    await project(database_url, event_store)
    async with pool.acquire() as conn:
        weekly = await lead_time_series(
            conn, "triage", "week", start=MONDAY - timedelta(weeks=1), end=LATER, now=at(14)
        )
        with pytest.raises(InvalidQuery) as bad:
            await lead_time_series(conn, "open_age", "week", now=at(14))
    assert bad.value.field == "interval"
    # The week before T0 is empty (one empty group); FB-1 (26h) and FB-4 (1h) were triaged
    # in T0's week, FB-3 (8d - 1h) the next.
    assert [p.period for p in weekly.periods] == ["2026-02-23", "2026-03-02", "2026-03-09"]
    empty, first, second = weekly.periods
    assert [(g.group, g.count, g.p50) for g in empty.groups] == [({}, 0, None)]
    [week_of_t0] = first.groups
    assert (week_of_t0.count, week_of_t0.p50, week_of_t0.mean) == (2, 13.5 * H, 13.5 * H)
    [next_week] = second.groups
    assert (next_week.count, next_week.p50) == (1, 8 * D - H)
    assert weekly.window.start == MONDAY - timedelta(weeks=1)


class Statements:
    """A real connection that remembers the statements run through it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.run: list[str] = []

    async def fetch(self, sql: str, *args: Any) -> Any:
        self.run.append(sql)
        return await self.conn.fetch(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


async def test_a_lead_time_series_is_one_statement_and_each_period_its_window(
    database_url: str, event_store: PostgresEventStore, pool: asyncpg.Pool
) -> None:
    await feedback_story(event_store)
    await project(database_url, event_store)
    start, end = MONDAY - timedelta(weeks=2), LATER + timedelta(weeks=1, hours=5)
    async with pool.acquire() as conn:
        for measure in ("triage", "decision", "ship", "close_loop"):
            for filters in (
                {},
                {"group_by": "team"},
                {"group_by": "week"},
                {"group_by": "channel", "team": "billing"},
            ):
                for interval in ("week", "month"):
                    counted = Statements(conn)
                    series = await lead_time_series(
                        cast(asyncpg.Connection, counted),
                        measure,
                        interval,
                        start=start,
                        end=end,
                        now=at(30),
                        **filters,
                    )
                    # Every period of the series from one statement,
                    assert len(counted.run) == 1, (measure, filters, interval)
                    assert len(series.periods) > 1
                    # each period the answer to its own window.
                    for period in series.periods:
                        alone = await lead_times(
                            conn,
                            measure,
                            start=period.window.start,
                            end=period.window.end,
                            now=at(30),
                            **filters,
                        )
                        assert period.groups == alone.groups, (measure, filters, period.period)
        # The story's triages fall in T0's week (FB-1, FB-4) and the next (FB-3): the
        # weekly series finds them there, and the empty weeks around them.
        weekly = await lead_time_series(conn, "triage", "week", start=start, end=end, now=at(30))
    assert [sum(g.count for g in p.groups) for p in weekly.periods] == [0, 0, 2, 1, 0, 0]
