"""Windows and series: DORA's default window (the last 12 weeks), and DORA and feedback
lead times per calendar week or month with every period present.

A period's figures are exactly the single answer over that period (the same statement,
given every period at once), so a series and a window agree by construction; an
empty period has count 0 and null figures and tiers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

from infra.database import Connection
from projections.metrics import Dora, LeadTimes, Window, dora, dora_periods, lead_time_periods
from projections.paging import InvalidQuery, Row
from projections.reads import reads
from projections.tiers import Benchmarks

Interval = Literal["week", "month"]
INTERVALS: tuple[Interval, ...] = ("week", "month")

#: Without `from`, DORA covers this much before `to` (or now): all time let one deployment
#: from years ago turn an elite team's per-week figure into a medium one.
DEFAULT_WINDOW = timedelta(weeks=12)
DEFAULT_WINDOW_TEXT = "the last 12 weeks"
#: A series longer than this is refused (five years of weeks).
MAX_PERIODS = 260


def default_window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime, str | None]:
    """The window (`from` included, `to` excluded) when the caller gave `start`/`end`:
    what was not given defaults to now for the end and 12 weeks before the end for the
    start; the text says which default applied (None when both were given)."""
    until = end if end is not None else now
    if start is not None:
        since = start
    elif until - datetime.min.replace(tzinfo=until.tzinfo) < DEFAULT_WINDOW:
        # A `to` in the first weeks of year 1: the window starts where the calendar does.
        since = datetime.min.replace(tzinfo=until.tzinfo)
    else:
        since = until - DEFAULT_WINDOW
    if start is None and end is None:
        note: str | None = f"{DEFAULT_WINDOW_TEXT} (no from/to given)"
    elif start is None:
        note = f"{DEFAULT_WINDOW_TEXT} before to (no from given)"
    elif end is None:
        note = "from up to now (no to given)"
    else:
        note = None
    if since >= until:
        raise InvalidQuery("from", "must be before to")
    return since, until, note


def periods(start: datetime, end: datetime, interval: str) -> list[tuple[str, datetime, datetime]]:
    """The calendar weeks (Monday, UTC) or months that meet [start, end), each clipped to
    it: (label, from, to). Labels are the week's Monday (2026-03-02) or the month
    (2026-03)."""
    if interval not in INTERVALS:
        raise InvalidQuery("interval", f"one of {', '.join(INTERVALS)}")
    first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "week":
        first -= timedelta(days=first.weekday())
    else:
        first = first.replace(day=1)
    found: list[tuple[str, datetime, datetime]] = []
    at = first
    while at < end:
        try:
            following = _next(at, interval)
        except (OverflowError, ValueError):
            following = end  # the calendar ends within this period: so does the window
        label = at.strftime("%Y-%m-%d" if interval == "week" else "%Y-%m")
        found.append((label, max(at, start), min(following, end)))
        if len(found) > MAX_PERIODS:
            raise InvalidQuery(
                "interval", f"the window holds more than {MAX_PERIODS} periods; narrow from/to"
            )
        at = following
    return found


def _next(at: datetime, interval: str) -> datetime:
    if interval == "week":
        return at + timedelta(weeks=1)
    return (
        at.replace(year=at.year + 1, month=1) if at.month == 12 else at.replace(month=at.month + 1)
    )


def _query_end(period_end: datetime, until: datetime, end: datetime | None) -> datetime | None:
    """Without `to`, the last period runs up to now with nothing cut off (`now` is the start
    of the current minute, for caching; what finished since then still counts)."""
    return None if end is None and period_end == until else period_end


# --- DORA ----------------------------------------------------------------------------


class DoraPeriod(Dora, frozen=True, kw_only=True):
    """One period of a DORA series: the single answer's fields over that period."""

    period: str


class DoraSeries(Row, frozen=True, kw_only=True):
    unit: str = "seconds"
    interval: Interval
    benchmarks: Benchmarks
    window: Window
    periods: list[DoraPeriod]


@reads("delivery", "directory")
async def dora_window(
    conn: Connection,
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime,
    benchmarks: Benchmarks = "2023",
) -> Dora:
    """DORA as the API answers it: over the given window or the default one (said in
    `window`), with the minimum sample a tier needs."""
    since, until, note = default_window(start, end, now)
    answer = await dora(
        conn,
        team=team,
        service=service,
        start=since,
        end=end,  # up to now when not given, this minute's deployments included
        now=now,
        benchmarks=benchmarks,
        minimum_sample=True,
    )
    return _with_window(answer, Window(start=since, end=until, default=note))


def _with_window(answer: Dora, window: Window) -> Dora:
    return Dora(
        unit=answer.unit,
        deployment_frequency=answer.deployment_frequency,
        lead_time_for_changes=answer.lead_time_for_changes,
        change_failure_rate=answer.change_failure_rate,
        recovery_time=answer.recovery_time,
        time_to_restore=answer.time_to_restore,
        benchmarks=answer.benchmarks,
        window=window,
    )


@reads("delivery", "directory")
async def dora_series(
    conn: Connection,
    interval: str,
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime,
    benchmarks: Benchmarks = "2023",
) -> DoraSeries:
    """DORA per week or month over the (default) window, every period present."""
    since, until, note = default_window(start, end, now)
    chosen = periods(since, until, interval)
    answers = await dora_periods(
        conn,
        [
            (period_start, _query_end(period_end, until, end))
            for _, period_start, period_end in chosen
        ],
        team=team,
        service=service,
        now=now,
        benchmarks=benchmarks,
        minimum_sample=True,
    )
    found = [
        DoraPeriod(
            period=label,
            deployment_frequency=answer.deployment_frequency,
            lead_time_for_changes=answer.lead_time_for_changes,
            change_failure_rate=answer.change_failure_rate,
            recovery_time=answer.recovery_time,
            time_to_restore=answer.time_to_restore,
            benchmarks=benchmarks,
            window=Window(start=period_start, end=period_end),
        )
        for (label, period_start, period_end), answer in zip(chosen, answers, strict=True)
    ]
    return DoraSeries(
        interval="week" if interval == "week" else "month",
        benchmarks=benchmarks,
        window=Window(start=since, end=until, default=note),
        periods=found,
    )


# --- feedback lead times ----------------------------------------------------------------


class LeadTimePeriod(LeadTimes, frozen=True, kw_only=True):
    """One period of a lead-time series: the single answer's fields over that period."""

    period: str
    window: Window


class LeadTimeSeries(Row, frozen=True, kw_only=True):
    measure: str
    unit: str = "seconds"
    interval: Interval
    window: Window
    periods: list[LeadTimePeriod]


@reads("feedback", "directory")
async def lead_time_series(
    conn: Connection,
    measure: str,
    interval: str,
    *,
    team: str | UUID | None = None,
    channel: str | None = None,
    touchpoint: str | None = None,
    outcome: str | UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    group_by: str | None = None,
    now: datetime,
    segment: str | None = None,
    customer: str | None = None,
) -> LeadTimeSeries:
    """A lead-time measure per week or month (spans by when they ended), every period
    present; without `from`, the last 12 weeks. Open age is a snapshot and has none."""
    if measure == "open_age":
        raise InvalidQuery("interval", "open_age is a snapshot at now and has no series")
    since, until, note = default_window(start, end, now)
    chosen = periods(since, until, interval)
    answers = await lead_time_periods(
        conn,
        measure,
        [
            (period_start, _query_end(period_end, until, end))
            for _, period_start, period_end in chosen
        ],
        team=team,
        channel=channel,
        touchpoint=touchpoint,
        outcome=outcome,
        group_by=group_by,
        now=now,
        segment=segment,
        customer=customer,
    )
    found = [
        LeadTimePeriod(
            period=label,
            window=Window(start=period_start, end=period_end),
            measure=answer.measure,
            groups=answer.groups,
        )
        for (label, period_start, period_end), answer in zip(chosen, answers, strict=True)
    ]
    return LeadTimeSeries(
        measure=measure,
        interval="week" if interval == "week" else "month",
        window=Window(start=since, end=until, default=note),
        periods=found,
    )
