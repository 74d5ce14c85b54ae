"""Metric queries: feedback lead times, DORA per team or service, DORA per day, and
outcome scorecards. Definitions: docs/metrics.md.

Every duration is seconds (float). Percentiles are computed by PostgreSQL with
`percentile_cont` (linear interpolation between the two nearest values), through the one
`SUMMARY` select list that the metric queries use; DORA's lead time for changes computes the
same figures from the counts the delivery projection keeps (`_commit_leads`), and a test
holds it to `SUMMARY` over the same commits.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, get_args
from uuid import UUID

import asyncpg
import msgspec

from domain import vocabulary
from domain.vocabulary import PASSIVE, PROMOTER, FeedbackStatus, in_order
from infra.database import Connection
from projections.feedback import DEMAND, asked_by, asks, who_asked
from projections.nps import nps_score
from projections.paging import InvalidQuery, Row, team_ref, uuid_text
from projections.reads import reads
from projections.tiers import (
    WEEK,
    Benchmarks,
    Tier,
    judge_failure_rate,
    judge_frequency,
    judge_lead_time,
    judge_recovery,
)

# The tier rules live in projections/tiers.py; these names stay importable from here.
from projections.tiers import failure_rate_tier as failure_rate_tier
from projections.tiers import frequency_tier as frequency_tier
from projections.tiers import lead_time_tier as lead_time_tier
from projections.tiers import recovery_tier as recovery_tier

Measure = Literal["triage", "decision", "ship", "close_loop", "open_age"]
MEASURES: tuple[Measure, ...] = get_args(Measure)
Grouping = Literal["team", "channel", "touchpoint", "outcome", "week"]
GROUPINGS: tuple[Grouping, ...] = get_args(Grouping)

#: Feedback statuses that count as not yet resolved (the open age of these is aging WIP).
OPEN_FEEDBACK = in_order(vocabulary.OPEN_FEEDBACK)

FRACTIONS = "ARRAY[0.5, 0.75, 0.85, 0.95]::float8[]"
"""The percentiles every duration figure gives: p50, p75, p85, p95."""

SUMMARY = f"""count(span)::int AS count,
       avg(span)::float8 AS mean,
       percentile_cont({FRACTIONS}) WITHIN GROUP (ORDER BY span) AS percentiles"""
"""The select list that summarises a column named `span` (seconds): count, mean and the
interpolated p50, p75, p85 and p95 (one sort). NULL spans are left out."""


class Figures(Row, frozen=True, kw_only=True):
    """count, mean and percentiles of a set of durations in seconds (None when empty)."""

    count: int
    mean: float | None
    p50: float | None
    p75: float | None
    p85: float | None
    p95: float | None


def figures(count: int | None, mean: float | None, percentiles: Sequence[float] | None) -> Figures:
    """`Figures` from the three columns `SUMMARY` selects."""
    p = list(percentiles) if percentiles is not None else [None, None, None, None]
    return Figures(count=count or 0, mean=mean, p50=p[0], p75=p[1], p85=p[2], p95=p[3])


# --- feedback lead times ------------------------------------------------------------


class LeadTimeGroup(Row, frozen=True, kw_only=True):
    group: dict[str, str | None]
    count: int
    mean: float | None
    p50: float | None
    p75: float | None
    p85: float | None
    p95: float | None
    clamped: int = 0
    """Of `count`, the spans that ended before the first ask (a time from the outside
    world, e.g. a deployment that finished before the feedback was received), each counted
    as zero rather than as a negative duration."""


class LeadTimes(Row, frozen=True, kw_only=True):
    measure: str
    unit: str = "seconds"
    groups: list[LeadTimeGroup]


# The column where each measure's span ends; open age ends now.
_ENDS = {
    "triage": "triaged_at",
    "decision": "decided_at",
    "ship": "shipped_at",
    "close_loop": "closed_at",
}


@functools.cache
def _lead_time_sql(measure: str, teamed: bool, asked: bool) -> str:
    """One statement per measure, naming its end column, so the planner reads that
    column's covering index (projections/feedback.py): by (team, end) when `teamed`, by
    end otherwise, a range per period. Filters not asked for are left out of the text
    rather than skipped by `$n IS NULL`, so that a generic plan still reads the index alone.

    It answers per period of `$7` (starts, NULL for none) and `$8` (ends, NULL for none),
    each period's rows numbered `n` from 1 in their order: a single answer is one period, a
    series many, so that a series and its windows agree by construction."""
    if measure == "open_age":
        ended = "p.now"
        scope = "f.status = ANY(p.open_statuses)"
        window = "TRUE"
        week_of = "i.started_at"
    else:
        column = _ENDS[measure]
        ended = f"f.{column}"
        scope = f"f.status <> '{FeedbackStatus.DUPLICATE}' AND f.{column} IS NOT NULL"
        window = f"f.{column} >= w.since AND f.{column} < w.until"
        week_of = "i.ended_at"
    team = (
        "f.team_id IN (SELECT id FROM read.teams WHERE slug = $3 OR id::text = $3)"
        if teamed
        else "$3::text IS NULL"
    )
    who = asked_by("f", 11, 12) if asked else "$11::text IS NULL AND $12::text IS NULL"
    return f"""
WITH p AS (
    SELECT $1::text AS measure, coalesce($2::timestamptz, now()) AS now,
           $10::text[] AS open_statuses
),
periods AS (
    SELECT n, coalesce(start, '-infinity') AS since, coalesce(until, 'infinity') AS until
    FROM unnest($7::timestamptz[], $8::timestamptz[]) WITH ORDINALITY AS w(start, until, n)
),
items AS (
    SELECT w.n, f.team_id, f.channel, f.touchpoint, f.outcome_id,
           f.earliest_received_at AS started_at, {ended} AS ended_at
    FROM periods w JOIN read.feedback_items f ON {window}, p
    WHERE {scope} AND {team}
      AND ($4::text IS NULL OR f.channel = $4)
      AND ($5::text IS NULL OR f.touchpoint = $5)
      AND ($6::text IS NULL OR f.outcome_id::text = $6)
      AND {who}
),
spans AS (
    -- A span that ends before it starts (the outside world's times disagree) counts as 0.
    -- date_part works in float8 where extract works in numeric and is cast: a cold
    -- question over 100,000 spans at 10M events took half the time (120 against 237 ms);
    -- the two may differ in the last bit, well inside the metric tests' tolerance.
    SELECT i.n, greatest(date_part('epoch', i.ended_at - i.started_at), 0) AS span,
           i.ended_at < i.started_at AS clamped,
           CASE $9::text
               WHEN 'team' THEN i.team_id::text
               WHEN 'channel' THEN i.channel
               WHEN 'touchpoint' THEN i.touchpoint
               WHEN 'outcome' THEN i.outcome_id::text
               WHEN 'week' THEN to_char(date_trunc('week', {week_of} AT TIME ZONE 'UTC'),
                                        'YYYY-MM-DD')
           END AS group_key
    FROM items i
),
summaries AS (
    SELECT n, group_key, {SUMMARY}, count(*) FILTER (WHERE clamped)::int AS clamped
    FROM spans GROUP BY n, group_key
)
SELECT s.n, s.group_key,
       CASE $9 WHEN 'team' THEN t.slug WHEN 'outcome' THEN o.statement END AS label,
       s.count, s.mean, s.percentiles, s.clamped
FROM summaries s
LEFT JOIN read.teams t ON $9 = 'team' AND t.id::text = s.group_key
LEFT JOIN read.outcomes o ON $9 = 'outcome' AND o.id::text = s.group_key
ORDER BY s.n, coalesce(t.slug, o.statement, s.group_key) NULLS LAST, s.group_key NULLS LAST
"""


def _group(group_by: str | None, key: str | None, label: str | None) -> dict[str, str | None]:
    if group_by is None:
        return {}
    if group_by == "team":
        return {"team": label, "team_id": key}
    if group_by == "outcome":
        return {"outcome": label, "outcome_id": key}
    return {group_by: key}


@reads("feedback", "directory")
async def lead_times(
    conn: Connection,
    measure: str,
    *,
    team: str | UUID | None = None,
    channel: str | None = None,
    touchpoint: str | None = None,
    outcome: str | UUID | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    group_by: str | None = None,
    now: datetime | None = None,
    segment: str | None = None,
    customer: str | None = None,
) -> LeadTimes:
    """Feedback lead times of one `measure` (see `MEASURES`), optionally grouped.

    Every span starts when the first customer asked (`earliest_received_at`: a merged
    duplicate counts once, on its original). `start` (inclusive) and `end` (exclusive)
    select spans by when they ended; open age is a snapshot at `now` (default: the
    database's now) of the items not yet resolved, and the window does not apply to it.
    Without `group_by`, one group `{}` (count 0 and None figures when nothing matched);
    with it, one group per value that has spans, `week` being the Monday (UTC) of the
    span's end (of the first ask, for open age). `segment` and `customer` select the
    items they asked (`projections.feedback.asked_by`).
    """
    [answer] = await lead_time_periods(
        conn,
        measure,
        [(start, end)],
        team=team,
        channel=channel,
        touchpoint=touchpoint,
        outcome=outcome,
        group_by=group_by,
        now=now,
        segment=segment,
        customer=customer,
    )
    return answer


@reads("feedback", "directory")
async def lead_time_periods(
    conn: Connection,
    measure: str,
    periods: Sequence[tuple[datetime | None, datetime | None]],
    *,
    team: str | UUID | None = None,
    channel: str | None = None,
    touchpoint: str | None = None,
    outcome: str | UUID | None = None,
    group_by: str | None = None,
    now: datetime | None = None,
    segment: str | None = None,
    customer: str | None = None,
) -> list[LeadTimes]:
    """`lead_times` over each of `periods` (start, end), in one statement: what a series
    asks (open age, a snapshot, has no series: projections/series.py refuses it)."""
    if measure not in MEASURES:
        raise InvalidQuery("measure", f"one of {', '.join(MEASURES)}")
    if group_by is not None and group_by not in GROUPINGS:
        raise InvalidQuery("group_by", f"one of {', '.join(GROUPINGS)}")
    asker = who_asked(segment, customer)
    rows = await conn.fetch(
        _lead_time_sql(measure, team is not None, asker != (None, None)),
        measure,
        now,
        team_ref(team),
        channel.strip().lower() if channel else None,
        touchpoint.strip().lower() if touchpoint else None,
        uuid_text(outcome),
        [start for start, _ in periods],
        [end for _, end in periods],
        group_by,
        list(OPEN_FEEDBACK),
        *asker,
    )
    found: list[list[LeadTimeGroup]] = [[] for _ in periods]
    for r in rows:
        found[r["n"] - 1].append(
            LeadTimeGroup(
                group=_group(group_by, r["group_key"], r["label"]),
                **_fields(figures(r["count"], r["mean"], r["percentiles"])),
                clamped=r["clamped"],
            )
        )
    return [
        LeadTimes(
            measure=measure,
            groups=groups
            or ([] if group_by else [LeadTimeGroup(group={}, **_fields(figures(0, None, None)))]),
        )
        for groups in found
    ]


def _fields(f: Figures) -> dict[str, Any]:
    return {
        "count": f.count,
        "mean": f.mean,
        "p50": f.p50,
        "p75": f.p75,
        "p85": f.p85,
        "p95": f.p95,
    }


# --- DORA -------------------------------------------------------------------------


class DeploymentFrequency(Row, frozen=True, kw_only=True):
    deployments: int
    deployment_days: int
    per_week: float | None
    tier: Tier | None
    tier_reason: str | None = None


class LeadTimeForChanges(Row, frozen=True, kw_only=True):
    count: int
    mean: float | None
    p50: float | None
    p85: float | None
    tier: Tier | None
    tier_reason: str | None = None


class ChangeFailureRate(Row, frozen=True, kw_only=True):
    failed: int
    deployments: int
    rate: float | None
    tier: Tier | None
    tier_reason: str | None = None


class Recovery(Row, frozen=True, kw_only=True):
    count: int
    mean: float | None
    p50: float | None
    tier: Tier | None
    tier_reason: str | None = None


class Window(Row, frozen=True, kw_only=True):
    """The window an answer covers (`to` excluded); `default` says how it was chosen when
    the caller did not give it."""

    start: datetime | None = msgspec.field(name="from")
    end: datetime | None = msgspec.field(name="to")
    default: str | None = None


class Dora(Row, frozen=True, kw_only=True):
    unit: str = "seconds"
    deployment_frequency: DeploymentFrequency
    lead_time_for_changes: LeadTimeForChanges
    change_failure_rate: ChangeFailureRate
    recovery_time: Recovery
    time_to_restore: Recovery
    benchmarks: Benchmarks = "2023"
    window: Window | None = None


# The services a DORA question covers: those the team owns ($1, id or slug) and/or the one
# named ($2). None (every service) when neither is given.
_SCOPE = """
SELECT CASE WHEN $1::text IS NULL THEN ARRAY[$2::text]
            ELSE ARRAY(SELECT r.repository
                       FROM read.team_repositories r JOIN read.teams t ON t.id = r.team_id
                       WHERE (t.slug = $1 OR t.id::text = $1)
                         AND ($2::text IS NULL OR r.repository = $2))
       END
"""


async def _services(
    conn: Connection, team: str | UUID | None, service: str | None
) -> list[str] | None:
    if team is None and service is None:
        return None
    found: list[str] = await conn.fetchval(
        _SCOPE, team_ref(team), service.strip().lower() if service else None
    )
    return found


def _scope(alias: str, scoped: bool) -> str:
    """The SQL "`alias`'s service is one of `$1` AND " when `scoped`, else nothing."""
    return f"{alias}.service = ANY($1::text[]) AND " if scoped else ""


def _within(column: str, scoped: bool) -> str:
    """The predicate "the row is in the services `$1` (when `scoped`) and its time `column`
    in the period `p`": a range scan of a (service, time) covering index per period."""
    service = column.split(".")[0] + ".service = ANY($1::text[]) AND " if scoped else ""
    return f"{service}{column} >= p.since AND {column} < p.until"


# A production deployment failed when it failed, was rolled back, or has an incident tied
# to it (projections/delivery.py keeps the ties and the count).
_FAILED = "(i.status IN ('failed', 'rolled_back') OR i.incidents > 0)"


def _commit_leads(scoped: bool) -> str:
    """The CTEs that end in `changes` (n, count, mean, percentiles): each period's lead time
    for changes over the commits first deployed in it, the same figures as `SUMMARY` over
    their `lead_seconds`, without sorting them all.

    The counts and exact sums per lead bucket come from `commit_days` for the period's whole
    days and from the commits themselves for its partial first and last days. A bucket
    never holds a longer lead time than the next (projections/delivery.py), so the buckets'
    running counts say which bucket holds each rank a percentile needs: only those buckets'
    commits in the period are read (a range of a (service, bucket, time) covering index)
    and sorted. The interpolation is `percentile_cont`'s: for a fraction q of n spans, the
    values at ranks floor(q(n-1)) and ceil(q(n-1)), lo + (hi - lo) * (q(n-1) - floor)."""
    return f"""
lead_buckets AS (
    SELECT n, bucket, sum(commits)::bigint AS commits, sum(seconds) AS seconds
    FROM (SELECT p.n, d.bucket, d.commits, d.seconds
          FROM periods p JOIN read.commit_days d
               ON {_scope("d", scoped)}d.day >= p.first_day AND d.day < p.last_day
          UNION ALL
          SELECT p.n, c.lead_bucket, 1, c.lead_seconds::numeric
          FROM periods p JOIN read.commit_deployments c
               ON {_scope("c", scoped)}c.deployed_at >= p.since
                  AND c.deployed_at < least(p.first_midnight, p.until)
          UNION ALL
          SELECT p.n, c.lead_bucket, 1, c.lead_seconds::numeric
          FROM periods p JOIN read.commit_deployments c
               ON {_scope("c", scoped)}c.deployed_at >= greatest(p.last_midnight, p.first_midnight)
                  AND c.deployed_at < p.until) x
    GROUP BY n, bucket
),
lead_totals AS (
    SELECT n, sum(commits)::bigint AS total, sum(seconds) AS seconds
    FROM lead_buckets GROUP BY n
),
-- Each percentile's position q(n-1) between the ranks (from 0) either side of it.
lead_wanted AS (
    SELECT t.n, q.i, q.q * (t.total - 1)::float8 AS at,
           floor(q.q * (t.total - 1)::float8)::bigint AS lo,
           ceil(q.q * (t.total - 1)::float8)::bigint AS hi
    FROM lead_totals t, unnest({FRACTIONS}) WITH ORDINALITY AS q(q, i)
),
-- The buckets holding those ranks, with how many commits rank below each.
lead_needed AS (
    SELECT DISTINCT r.n, r.bucket, r.below
    FROM (SELECT n, bucket, commits,
                 (sum(commits) OVER (PARTITION BY n ORDER BY bucket) - commits)::bigint AS below
          FROM lead_buckets) r
    JOIN lead_wanted w ON w.n = r.n AND r.below <= w.hi AND w.lo < r.below + r.commits
),
lead_picked AS (
    SELECT s.n, s.rank, s.span
    FROM (SELECT d.n, c.lead_seconds AS span,
                 d.below + row_number() OVER (PARTITION BY d.n, d.bucket
                                              ORDER BY c.lead_seconds) - 1 AS rank
          FROM lead_needed d JOIN periods p ON p.n = d.n
          JOIN read.commit_deployments c
               ON {_scope("c", scoped)}c.lead_bucket = d.bucket
                  AND c.deployed_at >= p.since AND c.deployed_at < p.until) s
    WHERE EXISTS (SELECT FROM lead_wanted w WHERE w.n = s.n AND s.rank IN (w.lo, w.hi))
),
changes AS (
    SELECT t.n, t.total::int AS count, (t.seconds / t.total)::float8 AS mean,
           (SELECT array_agg(lo.span + (hi.span - lo.span) * (w.at - floor(w.at)) ORDER BY w.i)
            FROM lead_wanted w
            JOIN lead_picked lo ON lo.n = w.n AND lo.rank = w.lo
            JOIN lead_picked hi ON hi.n = w.n AND hi.rank = w.hi
            WHERE w.n = t.n) AS percentiles
    FROM lead_totals t
)"""


def _dora_sql(scoped: bool) -> str:
    """DORA's raw figures per period: one row per period of `$2` (starts, NULL for none) and
    `$3` (ends, NULL for none), in their order. A single answer is one period, a series
    many: the same statement, so a series and its windows agree by construction."""
    return f"""
WITH scope AS (SELECT $1::text[] AS services),  -- every service when not `scoped`
periods AS (
    SELECT n, start, "end", since, until, first_day, last_day,
           first_day::timestamp AT TIME ZONE 'UTC' AS first_midnight,
           last_day::timestamp AT TIME ZONE 'UTC' AS last_midnight
    FROM (SELECT n, start, until AS "end", coalesce(start, '-infinity') AS since,
                 coalesce(until, 'infinity') AS until,
                 -- The whole days (UTC) inside the period: first_day <= day < last_day.
                 CASE WHEN start IS NULL THEN '-infinity'::date
                      WHEN start = (start AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE 'UTC'
                      THEN (start AT TIME ZONE 'UTC')::date
                      ELSE (start AT TIME ZONE 'UTC')::date + 1
                 END AS first_day,
                 coalesce((until AT TIME ZONE 'UTC')::date, 'infinity') AS last_day
          FROM unnest($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(start, until, n)
    ) w
),
-- Deployment counts: whole days from deployment_days, the partial days at either end
-- from the deployments themselves.
days AS (
    SELECT p.n, count(DISTINCT d.day) FILTER (WHERE d.succeeded > 0)::int AS days,
           sum(d.succeeded)::int AS succeeded, min(d.first_succeeded_at) AS first_at,
           sum(d.deployments)::int AS production, sum(d.failed)::int AS failed
    FROM periods p JOIN read.deployment_days d
         ON {_scope("d", scoped)}d.day >= p.first_day AND d.day < p.last_day
    GROUP BY p.n
),
edges AS (
    SELECT p.n, i.status, i.finished_at, {_FAILED} AS failed
    FROM periods p JOIN read.increments i
         ON i.production AND {_scope("i", scoped)}i.finished_at >= p.since
            AND i.finished_at < least(p.first_midnight, p.until)
    UNION ALL
    SELECT p.n, i.status, i.finished_at, {_FAILED}
    FROM periods p JOIN read.increments i
         ON i.production AND {_scope("i", scoped)}
            i.finished_at >= greatest(p.last_midnight, p.first_midnight)
            AND i.finished_at < p.until
),
edge_days AS (
    SELECT n, count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
           count(DISTINCT (finished_at AT TIME ZONE 'UTC')::date)
               FILTER (WHERE status = 'succeeded')::int AS days,
           min(finished_at) FILTER (WHERE status = 'succeeded') AS first_at,
           count(*)::int AS production,
           count(*) FILTER (WHERE failed)::int AS failed
    FROM edges GROUP BY n
),
frequency AS (
    SELECT p.n, coalesce(d.succeeded, 0) + coalesce(e.succeeded, 0) AS deployments,
           coalesce(d.days, 0) + coalesce(e.days, 0) AS deployment_days,
           least(d.first_at, e.first_at) AS first_at,
           coalesce(d.production, 0) + coalesce(e.production, 0) AS production,
           coalesce(d.failed, 0) + coalesce(e.failed, 0) AS failed
    FROM periods p LEFT JOIN days d ON d.n = p.n LEFT JOIN edge_days e ON e.n = p.n
),
{_commit_leads(scoped)},
incidents AS (
    SELECT p.n, t.opened_at, t.resolved_at, t.tied_deployed_at AS deployed_at,
           t.tied_rolled_back_at AS rolled_back_at
    FROM periods p JOIN read.incidents t
         ON t.resolved_at IS NOT NULL AND {_within("t.opened_at", scoped)}
),
-- A deployment rolled back by a later increment recovered when that rollback finished:
-- an incident it caused recovers then at the latest, and without an incident the
-- rollback is the recovery (selected, like the deployment, by its finish).
rollbacks AS (
    SELECT p.n, i.finished_at AS deployed_at, i.rolled_back_at
    FROM periods p JOIN read.increments i
         ON i.production AND i.rolled_back_at IS NOT NULL AND i.incidents = 0
            AND {_within("i.finished_at", scoped)}
),
recovery AS (
    SELECT n, {SUMMARY}
    -- Spans in float8 from date_part (see `_lead_time_sql`).
    FROM (SELECT n, date_part('epoch', least(resolved_at, rolled_back_at) - deployed_at) AS span
          FROM incidents WHERE deployed_at IS NOT NULL
          UNION ALL
          SELECT n, date_part('epoch', rolled_back_at - deployed_at) FROM rollbacks) s
    GROUP BY n
),
restore AS (
    SELECT n, {SUMMARY}
    FROM (SELECT n, date_part('epoch', resolved_at - opened_at) AS span FROM incidents) s
    GROUP BY n
)
SELECT coalesce(f.deployments, 0) AS deployments,
       coalesce(f.deployment_days, 0) AS deployment_days,
       coalesce(f.production, 0) AS production, coalesce(f.failed, 0) AS failed,
       extract(epoch FROM coalesce(p."end", $4::timestamptz, now())
                          - coalesce(p.start, f.first_at))::float8 AS window_seconds,
       coalesce(c.count, 0) AS change_count, c.mean AS change_mean,
       c.percentiles AS change_percentiles,
       rv.count AS recovery_count, rv.mean AS recovery_mean,
       rv.percentiles AS recovery_percentiles,
       rs.count AS restore_count, rs.mean AS restore_mean,
       rs.percentiles AS restore_percentiles
FROM periods p
LEFT JOIN frequency f ON f.n = p.n
LEFT JOIN changes c ON c.n = p.n
LEFT JOIN recovery rv ON rv.n = p.n
LEFT JOIN restore rs ON rs.n = p.n
ORDER BY p.n
"""


_DORA = {scoped: _dora_sql(scoped) for scoped in (False, True)}


@reads("delivery", "directory")
async def dora(
    conn: Connection,
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    benchmarks: Benchmarks = "2023",
    minimum_sample: bool = False,
) -> Dora:
    """The four DORA keys (plus time to restore) for a team's services or one service.

    `start` (inclusive) and `end` (exclusive) select deployments and commits by when
    they were deployed, and incidents by when they opened. Deployment frequency is per
    week of the window start..end, which defaults to first deployment..`now`, and is at
    least one week long. Tiers follow the `benchmarks` year's table; with
    `minimum_sample` (what the API asks for) a tier needs the documented minimum sample
    (projections/tiers.py), else it is None with the reason.
    """
    [answer] = await dora_periods(
        conn,
        [(start, end)],
        team=team,
        service=service,
        now=now,
        benchmarks=benchmarks,
        minimum_sample=minimum_sample,
    )
    return answer


@reads("delivery", "directory")
async def dora_periods(
    conn: Connection,
    periods: Sequence[tuple[datetime | None, datetime | None]],
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    now: datetime | None = None,
    benchmarks: Benchmarks = "2023",
    minimum_sample: bool = False,
) -> list[Dora]:
    """`dora` over each of `periods` (start, end), in one statement: what a series asks."""
    services = await _services(conn, team, service)
    rows = await conn.fetch(
        _DORA[services is not None],
        services,
        [start for start, _ in periods],
        [end for _, end in periods],
        now,
    )
    return [
        _judged(r, start, benchmarks, minimum_sample)
        for r, (start, _) in zip(rows, periods, strict=True)
    ]


def _judged(
    r: asyncpg.Record, start: datetime | None, benchmarks: Benchmarks, minimum_sample: bool
) -> Dora:
    window_seconds: float = r["window_seconds"] or 0.0
    weeks = max(window_seconds / WEEK, 1.0)
    deployments: int = r["deployments"]
    changes = figures(r["change_count"], r["change_mean"], r["change_percentiles"])
    recovered = figures(r["recovery_count"], r["recovery_mean"], r["recovery_percentiles"])
    restored = figures(r["restore_count"], r["restore_mean"], r["restore_percentiles"])
    frequency = judge_frequency(
        deployments, r["deployment_days"], window_seconds, benchmarks, minimum_sample
    )
    lead = judge_lead_time(changes.count, changes.p50, benchmarks, minimum_sample)
    failure = judge_failure_rate(r["failed"], r["production"], benchmarks, minimum_sample)
    recovery = judge_recovery(
        recovered.count, recovered.p50, benchmarks, minimum_sample, "recoveries"
    )
    restore = judge_recovery(
        restored.count, restored.p50, benchmarks, minimum_sample, "resolved incidents"
    )
    return Dora(
        deployment_frequency=DeploymentFrequency(
            deployments=deployments,
            deployment_days=r["deployment_days"],
            per_week=deployments / weeks if deployments else (0.0 if start else None),
            tier=frequency.tier,
            tier_reason=frequency.reason,
        ),
        lead_time_for_changes=LeadTimeForChanges(
            count=changes.count,
            mean=changes.mean,
            p50=changes.p50,
            p85=changes.p85,
            tier=lead.tier,
            tier_reason=lead.reason,
        ),
        change_failure_rate=ChangeFailureRate(
            failed=r["failed"],
            deployments=r["production"],
            rate=r["failed"] / r["production"] if r["production"] else None,
            tier=failure.tier,
            tier_reason=failure.reason,
        ),
        recovery_time=Recovery(
            count=recovered.count,
            mean=recovered.mean,
            p50=recovered.p50,
            tier=recovery.tier,
            tier_reason=recovery.reason,
        ),
        time_to_restore=Recovery(
            count=restored.count,
            mean=restored.mean,
            p50=restored.p50,
            tier=restore.tier,
            tier_reason=restore.reason,
        ),
        benchmarks=benchmarks,
    )


class DoraDay(Row, frozen=True, kw_only=True):
    """One service's production deployments on one day (UTC)."""

    day: str
    team_id: UUID | None
    team: str | None
    service: str
    deployments: int
    succeeded: int
    failed: int


def _dora_daily_sql(scoped: bool) -> str:
    return f"""
WITH scope AS (SELECT $1::text[] AS services)  -- every service when not `scoped`
SELECT to_char(d.day, 'YYYY-MM-DD') AS day, r.team_id, t.slug AS team, d.service,
       count(*)::int AS deployments,
       count(*) FILTER (WHERE d.status = 'succeeded')::int AS succeeded,
       count(*) FILTER (WHERE d.failed)::int AS failed
FROM (SELECT i.service, (i.finished_at AT TIME ZONE 'UTC')::date AS day, i.status,
             {_FAILED} AS failed
      FROM (SELECT coalesce($2::timestamptz, '-infinity') AS since,
                   coalesce($3::timestamptz, 'infinity') AS until) p
      JOIN read.increments i ON i.production AND {_within("i.finished_at", scoped)}) d
LEFT JOIN read.team_repositories r ON r.repository = d.service
LEFT JOIN read.teams t ON t.id = r.team_id
GROUP BY d.day, r.team_id, t.slug, d.service
ORDER BY d.day, t.slug NULLS LAST, d.service
"""


_DORA_DAILY = {scoped: _dora_daily_sql(scoped) for scoped in (False, True)}


@reads("delivery", "directory")
async def dora_daily(
    conn: Connection,
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[DoraDay]:
    """Per day (UTC), team and service: production deployments, the successful ones, and
    the failed ones (failed, rolled back or tied to an incident, as in the change failure
    rate). Days without deployments are left out."""
    services = await _services(conn, team, service)
    rows = await conn.fetch(_DORA_DAILY[services is not None], services, start, end)
    return [DoraDay(**dict(r)) for r in rows]


# --- outcome scorecards -----------------------------------------------------------


class TeamRef(Row, frozen=True, kw_only=True):
    id: UUID
    slug: str


class ShipFigures(Row, frozen=True, kw_only=True):
    count: int
    p50: float | None
    clamped: int = 0
    """Of `count`, spans that ended before the first ask, counted as zero."""


class OutcomeScorecard(Row, frozen=True, kw_only=True):
    """An outcome with the feedback aligned to it.

    `items`, `demand`, `customers` and `detractors` mean what they mean for a decision
    (docs/metrics.md, "Demand"), over the items triaged to the outcome; `open_items` are
    those not yet resolved. NPS is over every scored ask (items and their duplicates):
    % promoters (9-10) - % detractors (0-6) of the `nps_responses`, None without scores.
    `time_to_ship` is first ask → first shipped, over the shipped items.
    """

    id: UUID
    statement: str
    measure: str
    target: str | None
    status: str
    teams: list[TeamRef]
    items: int
    demand: int
    customers: int
    detractors: int
    open_items: int
    nps_responses: int
    nps_promoters: int
    nps_detractors: int
    nps: float | None
    time_to_ship: ShipFigures


_SCORECARDS = f"""
WITH items AS (
    SELECT f.id, f.outcome_id, f.status, f.nps, f.demand, f.earliest_received_at,
           f.shipped_at
    FROM read.feedback_items f
    WHERE f.status <> '{FeedbackStatus.DUPLICATE}' AND f.outcome_id IS NOT NULL
      AND {asked_by("f", 2, 3)}
),
scores AS (
    SELECT outcome_id, nps FROM items WHERE nps IS NOT NULL
    UNION ALL
    SELECT i.outcome_id, d.nps
    FROM items i JOIN read.feedback_items d ON d.duplicate_of = i.id
    WHERE d.status = '{FeedbackStatus.DUPLICATE}' AND d.nps IS NOT NULL
      AND {asked_by("d", 2, 3)}
),
volume AS (
    SELECT outcome_id, count(*) FILTER (WHERE status = ANY($1::text[]))::int AS open_items
    FROM items GROUP BY outcome_id
),
asks AS ({asks("(SELECT outcome_id AS grp, id FROM items)")}),
demand AS (SELECT grp AS outcome_id, {DEMAND} FROM asks GROUP BY grp),
nps AS (
    SELECT outcome_id, count(*)::int AS responses,
           count(*) FILTER (WHERE nps >= {PROMOTER})::int AS promoters,
           count(*) FILTER (WHERE nps < {PASSIVE})::int AS detractors
    FROM scores GROUP BY outcome_id
),
shipping AS (
    SELECT outcome_id, {SUMMARY}, count(*) FILTER (WHERE clamped)::int AS clamped
    FROM (SELECT outcome_id,
                 greatest(extract(epoch FROM shipped_at - earliest_received_at), 0)::float8
                     AS span,
                 shipped_at < earliest_received_at AS clamped
          FROM items WHERE shipped_at IS NOT NULL) s
    GROUP BY outcome_id
)
SELECT o.id, o.statement, o.measure, o.target, o.status,
       ARRAY(SELECT t.id FROM unnest(o.team_ids) WITH ORDINALITY AS u(id, n)
             JOIN read.teams t ON t.id = u.id ORDER BY u.n) AS team_ids,
       ARRAY(SELECT t.slug FROM unnest(o.team_ids) WITH ORDINALITY AS u(id, n)
             JOIN read.teams t ON t.id = u.id ORDER BY u.n) AS team_slugs,
       coalesce(d.items, 0) AS items, coalesce(d.demand, 0) AS demand,
       coalesce(d.customers, 0) AS customers, coalesce(d.detractors, 0) AS detractors,
       coalesce(v.open_items, 0) AS open_items,
       coalesce(n.responses, 0) AS responses, coalesce(n.promoters, 0) AS promoters,
       coalesce(n.detractors, 0) AS nps_detractors,
       s.count AS ship_count, s.percentiles AS ship_percentiles, s.clamped AS ship_clamped
FROM read.outcomes o
LEFT JOIN volume v ON v.outcome_id = o.id
LEFT JOIN demand d ON d.outcome_id = o.id
LEFT JOIN nps n ON n.outcome_id = o.id
LEFT JOIN shipping s ON s.outcome_id = o.id
ORDER BY o.defined_at, o.id
"""


@reads("feedback", "directory")
async def outcome_scorecards(
    conn: Connection, *, segment: str | None = None, customer: str | None = None
) -> list[OutcomeScorecard]:
    """One scorecard per outcome, oldest defined first; `segment` and `customer` select
    the items (and scored duplicates) they asked (`projections.feedback.asked_by`)."""
    rows = await conn.fetch(_SCORECARDS, list(OPEN_FEEDBACK), *who_asked(segment, customer))
    cards = []
    for r in rows:
        shipped = figures(r["ship_count"], None, r["ship_percentiles"])
        cards.append(
            OutcomeScorecard(
                id=r["id"],
                statement=r["statement"],
                measure=r["measure"],
                target=r["target"],
                status=r["status"],
                teams=[
                    TeamRef(id=i, slug=s)
                    for i, s in zip(r["team_ids"], r["team_slugs"], strict=True)
                ],
                items=r["items"],
                demand=r["demand"],
                customers=r["customers"],
                detractors=r["detractors"],
                open_items=r["open_items"],
                nps_responses=r["responses"],
                nps_promoters=r["promoters"],
                nps_detractors=r["nps_detractors"],
                nps=nps_score(r["responses"], r["promoters"], r["nps_detractors"]),
                time_to_ship=ShipFigures(
                    count=shipped.count, p50=shipped.p50, clamped=r["ship_clamped"] or 0
                ),
            )
        )
    return cards
