"""NPS responses: one row per feedback item that carries a score, with the lexemes of its
"why"; the queries behind NPS figures, their why-themes and the detractor follow-up loop.
Definitions: docs/metrics.md (NPS and its why).

What a survey answer says never changes after it is received (the score and its why are
not editable), so this read model applies `Received` only. What a team does with the item
(its team, tags, outcome, duplicate original, loop closed) is read from the feedback
items read model, which owns the item's life cycle and honours its corrections.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.feedback import Feedback
from domain.vocabulary import PASSIVE, PROMOTER, FeedbackStatus
from infra.database import Connection
from projections.base import Positioned, Projection, events_of
from projections.paging import InvalidQuery, Row, page_limit, team_ref, uuid_text
from projections.reads import reads

#: The most periods a series answers (ten years of weeks).
MAX_PERIODS = 520
#: z for a two-sided 95 % interval.
Z95 = 1.959963984540054
#: A detractor is followed up "in time" when first contacted within this.
FOLLOW_UP_WITHIN = timedelta(hours=48)

SCHEMA = """
CREATE TABLE nps_responses (
    id uuid PRIMARY KEY,
    key text NOT NULL,
    score smallint NOT NULL,
    why text,
    channel text NOT NULL,
    touchpoint text NOT NULL,
    segment text,
    customer_ref text,
    received_at timestamptz NOT NULL,
    position bigint NOT NULL,
    -- The distinct English lexemes of the why: what the why-themes count.
    lexemes text[] GENERATED ALWAYS AS (
        tsvector_to_array(to_tsvector('english', coalesce(why, '')))
    ) STORED
);
-- How many whys use each lexeme, over every response: the background a selection's
-- distinguishing terms are weighed against (the informative prior).
CREATE TABLE nps_lexemes (
    lexeme text PRIMARY KEY,
    responses integer NOT NULL
);
"""

INDEXES = """
CREATE INDEX ON nps_responses (received_at) INCLUDE (score);
CREATE INDEX ON nps_responses (score, received_at);
"""

_COLUMNS = (
    "id",
    "key",
    "score",
    "why",
    "channel",
    "touchpoint",
    "segment",
    "customer_ref",
    "received_at",
    "position",
)

_COUNT_LEXEMES = """
INSERT INTO nps_lexemes (lexeme, responses)
SELECT w, count(*)::int FROM nps_responses r, unnest(r.lexemes) AS w
WHERE r.id = ANY($1::uuid[])
GROUP BY w
ON CONFLICT (lexeme) DO UPDATE SET responses = nps_lexemes.responses + EXCLUDED.responses
"""


class NpsResponses(Projection):
    """One row per scored feedback item (duplicates included: every answer is a response)."""

    name = "nps"
    version = 1
    tables = ("nps_responses", "nps_lexemes")
    topics = events_of(Feedback, "Received")

    def schema_sql(self) -> str:
        return SCHEMA

    def index_sql(self) -> str:
        return INDEXES

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        records = [
            (
                e.originator_id,
                e.key,
                e.nps,
                e.nps_reason,
                e.channel,
                e.touchpoint,
                e.segment,
                e.customer_ref,
                e.received_at,
                position,
            )
            for position, e in events
            if e.nps is not None
        ]
        if not records:
            return
        await conn.copy_records_to_table("nps_responses", records=records, columns=_COLUMNS)
        await conn.execute(_COUNT_LEXEMES, [r[0] for r in records])


# --- the selection every NPS question starts from -----------------------------------

DIMENSIONS = ("team", "touchpoint", "channel", "segment", "outcome", "week", "month")
PERIODS = ("week", "month")


@dataclass(frozen=True)
class Selection:
    """Which responses a question is about: received in [start, end), and the filters.

    `team` and `outcome` are those set at triage (a duplicate's are its original's);
    `segment` and `customer` the respondent's, compared without regard to case.
    """

    start: datetime | None = None
    end: datetime | None = None
    team: str | None = None
    """A team's slug or id (text: the API hands this on as a dependency, which msgspec
    checks, and it takes no union of two text-like types)."""
    touchpoint: str | None = None
    channel: str | None = None
    segment: str | None = None
    customer: str | None = None
    outcome: str | None = None

    def args(self) -> list[Any]:
        """The values of `$1`..`$8` in `_SELECTED`."""
        return [
            self.start,
            self.end,
            team_ref(self.team),
            self.touchpoint.strip().lower() if self.touchpoint else None,
            self.channel.strip().lower() if self.channel else None,
            self.segment.strip() if self.segment else None,
            self.customer.strip() if self.customer else None,
            uuid_text(self.outcome),
        ]


# Every response in the selection, with what the team did with its item: a duplicate is
# looked at through its original (team, tags, outcome, loop closed), since the original
# carries its demand.
_SELECTED = f"""
selected AS (
    SELECT r.id, r.key, r.score, r.why, r.lexemes, r.channel, r.touchpoint, r.segment,
           r.customer_ref, r.received_at,
           CASE WHEN r.score >= {PROMOTER} THEN 'promoter' WHEN r.score >= {PASSIVE} THEN 'passive'
                ELSE 'detractor' END AS class,
           coalesce(o.team_id, f.team_id) AS team_id,
           coalesce(o.outcome_id, f.outcome_id) AS outcome_id,
           coalesce(o.tags, f.tags, '{{}}') AS tags,
           least(f.followed_up_at,
                 CASE WHEN o.closed_at >= r.received_at THEN o.closed_at END) AS followed_up_at,
           coalesce(o.key, f.key) AS item_key,
           coalesce(o.status, f.status) AS item_status
    FROM read.nps_responses r
    LEFT JOIN read.feedback_items f ON f.id = r.id
    LEFT JOIN read.feedback_items o
        ON o.id = f.duplicate_of AND f.status = '{FeedbackStatus.DUPLICATE.value}'
    WHERE ($1::timestamptz IS NULL OR r.received_at >= $1)
      AND ($2::timestamptz IS NULL OR r.received_at < $2)
      AND ($4::text IS NULL OR r.touchpoint = $4)
      AND ($5::text IS NULL OR r.channel = $5)
      AND ($6::text IS NULL OR lower(r.segment) = lower($6))
      AND ($7::text IS NULL OR lower(r.customer_ref) = lower($7))
),
chosen AS (
    SELECT s.* FROM selected s
    WHERE ($3::text IS NULL
           OR s.team_id IN (SELECT id FROM read.teams WHERE slug = $3 OR id::text = $3))
      AND ($8::text IS NULL OR s.outcome_id::text = $8)
)"""


def _key_sql(dimension: str) -> str:
    if dimension == "team":
        return "c.team_id::text"
    if dimension == "outcome":
        return "c.outcome_id::text"
    if dimension == "week":
        return "to_char(date_trunc('week', c.received_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
    if dimension == "month":
        return "to_char(date_trunc('month', c.received_at AT TIME ZONE 'UTC'), 'YYYY-MM')"
    return f"c.{dimension}"


def dimensions(group_by: str | Sequence[str] | None) -> tuple[str, ...]:
    """`group_by` as a tuple of at most two distinct dimensions, at most one a period
    (`team,week`: per team and week); `InvalidQuery` naming it otherwise."""
    if group_by is None:
        return ()
    parts = group_by.split(",") if isinstance(group_by, str) else list(group_by)
    chosen = tuple(p.strip().lower() for p in parts if p.strip())
    wrong = [d for d in chosen if d not in DIMENSIONS]
    if wrong:
        raise InvalidQuery("group_by", f"one or two of {', '.join(DIMENSIONS)}")
    if len(chosen) > 2 or len(set(chosen)) != len(chosen):
        raise InvalidQuery("group_by", "at most two different dimensions, e.g. team,week")
    if sum(d in PERIODS for d in chosen) > 1:
        raise InvalidQuery("group_by", "at most one period (week or month)")
    return chosen


def _grouped_sql(select: str, dims: tuple[str, ...], *, where: str = "TRUE") -> str:
    """A statement over the chosen responses, one row per group of `dims` (keys `g0`,
    `g1` and labels `l0`, `l1`), selecting `select` (aggregates over `c`)."""
    keys = [f"{_key_sql(d)} AS g{i}" for i, d in enumerate(dims)]
    labels = []
    joins = []
    for i, d in enumerate(dims):
        if d == "team":
            joins.append(f"LEFT JOIN read.teams t{i} ON t{i}.id::text = x.g{i}")
            labels.append(f"t{i}.slug AS l{i}")
        elif d == "outcome":
            joins.append(f"LEFT JOIN read.outcomes o{i} ON o{i}.id::text = x.g{i}")
            labels.append(f"o{i}.statement AS l{i}")
        else:
            labels.append(f"NULL::text AS l{i}")
    group_cols = ", ".join(f"g{i}" for i in range(len(dims)))
    return f"""
WITH {_SELECTED},
keyed AS (SELECT c.*{"".join(", " + k for k in keys)} FROM chosen c WHERE {where}),
x AS (
    SELECT {group_cols + ", " if dims else ""}{select}
    FROM keyed c {"GROUP BY " + group_cols if dims else ""}
)
SELECT x.*{"".join(", " + label for label in labels)}
FROM x {" ".join(joins)}
"""


def _group(dims: tuple[str, ...], row: Any) -> dict[str, str | None]:
    group: dict[str, str | None] = {}
    for i, d in enumerate(dims):
        key, label = row[f"g{i}"], row[f"l{i}"]
        if d == "team":
            group.update(team=label, team_id=key)
        elif d == "outcome":
            group.update(outcome=label, outcome_id=key)
        else:
            group[d] = key
    return group


def _period_start(period: str, when: datetime) -> date:
    day = when.astimezone(UTC).date()
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _periods(period: str, first: date, last: date) -> list[str]:
    """Every period from the one holding `first` to the one holding `last`, as keys."""
    keys: list[str] = []
    at = first
    while at <= last:
        if len(keys) == MAX_PERIODS:
            raise InvalidQuery("group_by", f"more than {MAX_PERIODS} periods; narrow from/to")
        if period == "week":
            keys.append(at.isoformat())
            at += timedelta(days=7)
        else:
            keys.append(f"{at.year:04d}-{at.month:02d}")
            at = date(at.year + at.month // 12, at.month % 12 + 1, 1)
    return keys


def _sort_key(dims: tuple[str, ...], group: dict[str, str | None]) -> tuple[Any, ...]:
    # Labels (slug, statement) or keys, nulls last; periods chronologically.
    parts: list[Any] = []
    for d in dims:
        value = group.get(d)
        if d in ("team", "outcome") and value is None:
            value = group.get(f"{d}_id")
        parts.append((value is None, value or ""))
    return tuple(parts)


def _fill_periods(
    dims: tuple[str, ...],
    found: dict[tuple[Any, ...], dict[str, str | None]],
    selection: Selection,
    now: datetime,
    earliest: datetime | None,
) -> list[dict[str, str | None]]:
    """The groups to answer: those found, and with a period dimension every period from
    the window's start (or the first response) to its end (or now), for each value of the
    other dimension found, empty ones included."""
    groups = list(found.values())
    period = next((d for d in dims if d in PERIODS), None)
    if period is None:
        return sorted(groups, key=lambda g: _sort_key(dims, g))
    start = selection.start or earliest
    if start is None:
        return []
    end = selection.end or now
    # `end` is exclusive: the last period is the one holding the instant before it.
    last = _period_start(period, end - timedelta(microseconds=1))
    keys = _periods(period, _period_start(period, start), last)
    others = [d for d in dims if d != period]
    variants: dict[tuple[Any, ...], dict[str, str | None]] = {}
    for group in groups:
        rest = {k: v for k, v in group.items() if k != period}
        variants.setdefault(tuple(sorted(rest.items())), rest)
    if not others:
        variants = {(): {}}
    filled = []
    for rest in sorted(variants.values(), key=lambda g: _sort_key(tuple(others), g)):
        for key in keys:
            filled.append({**rest, period: key} if dims[0] != period else {period: key, **rest})
    return filled


def _identity(group: dict[str, str | None]) -> tuple[Any, ...]:
    return tuple(sorted(group.items()))


# --- NPS figures ----------------------------------------------------------------------


class NpsGroup(Row, frozen=True, kw_only=True):
    """NPS of one group: `nps` = % promoters - % detractors (-100..100) and `margin`, the
    half-width of its 95 % interval in NPS points; both null without responses."""

    group: dict[str, str | None]
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    margin: float | None


class Nps(Row, frozen=True, kw_only=True):
    group_by: list[str]
    groups: list[NpsGroup]


def nps_score(responses: int, promoters: int, detractors: int) -> float | None:
    """% promoters - % detractors, from -100 to 100; None without responses."""
    if responses == 0:
        return None
    return 100.0 * (promoters - detractors) / responses


def nps_margin(responses: int, promoters: int, detractors: int) -> float | None:
    """The 95 % margin of error of the NPS, in points: 1.96 standard errors of the mean of
    per-response scores +1 (promoter), 0 (passive), -1 (detractor), whose variance is
    p + d - (p - d)^2 for shares p and d; None without responses."""
    if responses == 0:
        return None
    p, d = promoters / responses, detractors / responses
    variance = max(0.0, p + d - (p - d) ** 2)
    return 100.0 * Z95 * math.sqrt(variance / responses)


_COUNTS = """count(*)::int AS responses,
       count(*) FILTER (WHERE c.class = 'promoter')::int AS promoters,
       count(*) FILTER (WHERE c.class = 'passive')::int AS passives,
       count(*) FILTER (WHERE c.class = 'detractor')::int AS detractors,
       min(c.received_at) AS earliest"""


def _nps_group(group: dict[str, str | None], responses: int, promoters: int, passives: int,
               detractors: int) -> NpsGroup:  # fmt: skip
    return NpsGroup(
        group=group,
        responses=responses,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        nps=nps_score(responses, promoters, detractors),
        margin=nps_margin(responses, promoters, detractors),
    )


@reads("nps", "feedback", "directory")
async def nps(
    conn: Connection,
    selection: Selection,
    *,
    group_by: str | Sequence[str] | None = None,
    now: datetime | None = None,
) -> Nps:
    """NPS of the responses received in the selection, in one group `{}` or per group.

    Every item that carries a score is one response, duplicates included. With a period
    (`week`, `month`) the answer is a series with every period present, from `start` (or
    the first response) to `end` (or `now`); periods without responses have 0 responses
    and null NPS and margin.
    """
    dims = dimensions(group_by)
    rows = await conn.fetch(_grouped_sql(_COUNTS, dims), *selection.args())
    found: dict[tuple[Any, ...], dict[str, str | None]] = {}
    counts: dict[tuple[Any, ...], Any] = {}
    earliest: datetime | None = None
    for r in rows:
        group = _group(dims, r)
        found[_identity(group)] = group
        counts[_identity(group)] = r
        if r["earliest"] is not None and (earliest is None or r["earliest"] < earliest):
            earliest = r["earliest"]
    if not dims:
        total = rows[0]
        return Nps(
            group_by=[],
            groups=[
                _nps_group(
                    {},
                    total["responses"],
                    total["promoters"],
                    total["passives"],
                    total["detractors"],
                )
            ],
        )
    groups = []
    for group in _fill_periods(dims, found, selection, now or datetime.now(UTC), earliest):
        c = counts.get(_identity(group))
        if c is None:
            groups.append(_nps_group(group, 0, 0, 0, 0))
        else:
            groups.append(
                _nps_group(group, c["responses"], c["promoters"], c["passives"], c["detractors"])
            )
    return Nps(group_by=list(dims), groups=groups)


# --- the why: tags and distinguishing terms ----------------------------------------------

#: Example item keys given with each tag and term.
EXAMPLES = 3
MAX_TERMS = 50


class WhyTag(Row, frozen=True, kw_only=True):
    """A tag given at triage, with how many responses of each kind carry it; `examples`
    are the keys of the newest detractors carrying it (promoters when it has none)."""

    tag: str
    detractors: int
    passives: int
    promoters: int
    examples: list[str]


class WhyTerm(Row, frozen=True, kw_only=True):
    """A word (English lexeme, as PostgreSQL stems it) of the whys, with how many
    detractors' and promoters' whys use it; `log_odds` is the log-odds ratio of its use by
    detractors over promoters with an informative Dirichlet prior, `z` that ratio over its
    standard deviation (Monroe, Colaresi & Quinn 2008); `examples` the keys of the newest
    responses of the side it marks."""

    term: str
    detractors: int
    promoters: int
    log_odds: float
    z: float
    examples: list[str]


class NpsWhy(Row, frozen=True, kw_only=True):
    responses: int
    detractors: int
    passives: int
    promoters: int
    tags: list[WhyTag]
    detractor_terms: list[WhyTerm]
    promoter_terms: list[WhyTerm]


_WHY_COUNTS = f"""
WITH {_SELECTED}
SELECT count(*)::int AS responses,
       count(*) FILTER (WHERE class = 'detractor')::int AS detractors,
       count(*) FILTER (WHERE class = 'passive')::int AS passives,
       count(*) FILTER (WHERE class = 'promoter')::int AS promoters
FROM chosen
"""

_WHY_TAGS = f"""
WITH {_SELECTED},
tagged AS (SELECT c.key, c.class, c.received_at, tag FROM chosen c, unnest(c.tags) AS tag)
SELECT tag,
       count(*) FILTER (WHERE class = 'detractor')::int AS detractors,
       count(*) FILTER (WHERE class = 'passive')::int AS passives,
       count(*) FILTER (WHERE class = 'promoter')::int AS promoters,
       (coalesce(array_agg(key ORDER BY received_at DESC, key)
                     FILTER (WHERE class = 'detractor'), '{{}}')
        || coalesce(array_agg(key ORDER BY received_at DESC, key)
                        FILTER (WHERE class <> 'detractor'), '{{}}'))[1:{EXAMPLES}] AS examples
FROM tagged
GROUP BY tag
ORDER BY detractors DESC, promoters, tag
"""

# Monroe, Colaresi & Quinn (2008), "Fightin' words", section 3.5: for word w with counts
# y_d, y_p in the detractors' and promoters' whys (each why counts a word once) and totals
# n_d, n_p, and a Dirichlet prior a_w = a0 * (share of w in every why ever received), with
# a0 = n_d + n_p (the prior weighs as much as the selection):
#   delta_w = ln((y_d + a_w) / (n_d + a0 - y_d - a_w)) - ln((y_p + a_w) / (n_p + a0 - y_p - a_w))
#   var_w ~= 1 / (y_d + a_w) + 1 / (y_p + a_w),   z_w = delta_w / sqrt(var_w).
_WHY_TERMS = f"""
WITH {_SELECTED},
words AS (
    SELECT c.key, c.class, c.received_at, w
    FROM chosen c, unnest(c.lexemes) AS w
    WHERE c.class <> 'passive'
),
counts AS (
    SELECT w,
           count(*) FILTER (WHERE class = 'detractor')::float8 AS yd,
           count(*) FILTER (WHERE class = 'promoter')::float8 AS yp,
           (array_agg(key ORDER BY received_at DESC, key)
                FILTER (WHERE class = 'detractor'))[1:{EXAMPLES}] AS by_detractors,
           (array_agg(key ORDER BY received_at DESC, key)
                FILTER (WHERE class = 'promoter'))[1:{EXAMPLES}] AS by_promoters
    FROM words GROUP BY w
),
totals AS (
    SELECT sum(yd) AS nd, sum(yp) AS np, sum(yd) + sum(yp) AS a0,
           (SELECT sum(responses)::float8 FROM read.nps_lexemes) AS background
    FROM counts
),
priors AS (
    SELECT c.*, t.nd, t.np, t.a0,
           -- A word the background has not counted yet (it lags) weighs as in the selection.
           greatest(t.a0 * coalesce(l.responses, c.yd + c.yp)
                    / greatest(t.background, t.a0), 1e-6) AS a
    FROM counts c CROSS JOIN totals t
    LEFT JOIN read.nps_lexemes l ON l.lexeme = c.w
),
scored AS (
    SELECT w, yd, yp, by_detractors, by_promoters,
           ln((yd + a) / greatest(nd + a0 - yd - a, 1e-9))
           - ln((yp + a) / greatest(np + a0 - yp - a, 1e-9)) AS delta,
           1 / (yd + a) + 1 / (yp + a) AS variance
    FROM priors
)
(SELECT 'detractor' AS side, w AS term, yd::int AS detractors, yp::int AS promoters,
        delta AS log_odds, delta / sqrt(variance) AS z,
        coalesce(by_detractors, '{{}}') AS examples
 FROM scored WHERE delta > 0 AND yd > 0 ORDER BY z DESC, w LIMIT $9)
UNION ALL
(SELECT 'promoter' AS side, w AS term, yd::int AS detractors, yp::int AS promoters,
        delta AS log_odds, delta / sqrt(variance) AS z,
        coalesce(by_promoters, '{{}}') AS examples
 FROM scored WHERE delta < 0 AND yp > 0 ORDER BY z, w LIMIT $9)
"""


@reads("nps", "feedback", "directory")
async def why(conn: Connection, selection: Selection, *, limit: int = 10) -> NpsWhy:
    """The themes behind the score of the selection's responses: the triage tags with
    their counts per kind of response, and up to `limit` terms that most mark the
    detractors' whys against the promoters' (and the promoters' against the detractors')."""
    if not 1 <= limit <= MAX_TERMS:
        raise InvalidQuery("limit", f"must be from 1 to {MAX_TERMS}")
    args = selection.args()
    totals = await conn.fetchrow(_WHY_COUNTS, *args)
    assert totals is not None  # an aggregate without GROUP BY answers one row
    tags = [WhyTag(**dict(r)) for r in await conn.fetch(_WHY_TAGS, *args)]
    terms: dict[str, list[WhyTerm]] = {"detractor": [], "promoter": []}
    for r in await conn.fetch(_WHY_TERMS, *args, limit):
        fields = dict(r)
        terms[fields.pop("side")].append(WhyTerm(**fields))
    return NpsWhy(
        responses=totals["responses"],
        detractors=totals["detractors"],
        passives=totals["passives"],
        promoters=totals["promoters"],
        tags=tags,
        detractor_terms=terms["detractor"],
        promoter_terms=terms["promoter"],
    )


# --- the inner loop: detractors owed a follow-up ---------------------------------------


class Detractor(Row, frozen=True, kw_only=True):
    """A detractor's answer still waiting for a follow-up (nobody contacted the customer:
    no follow-up recorded on its item, no loop closed on it or, for a duplicate, on its
    original).

    `item_key` is the item whose loop closing counts: the answer's own, or for a duplicate
    its original's (a follow-up is recorded on the answer's own item, `key`); `item_status`
    that item's status (the loop can be closed once it is shipped or declined, a follow-up
    recorded in any status); `waiting` is seconds since the answer was received.
    """

    key: str
    item_key: str
    item_status: str | None
    score: int
    why: str | None
    received_at: datetime
    waiting: float
    team_id: UUID | None
    team: str | None
    touchpoint: str
    channel: str
    segment: str | None
    customer_ref: str | None


class FollowUpQueue(Row, frozen=True, kw_only=True):
    """Detractors not yet followed up, oldest first (`total` of them; `items` up to the
    limit)."""

    total: int
    items: list[Detractor]


_QUEUE = f"""
WITH {_SELECTED},
waiting AS (SELECT * FROM chosen WHERE class = 'detractor' AND followed_up_at IS NULL)
SELECT w.key, w.item_key, w.item_status, w.score, w.why, w.received_at,
       greatest(extract(epoch FROM coalesce($9::timestamptz, now()) - w.received_at), 0)::float8
           AS waiting,
       w.team_id, t.slug AS team, w.touchpoint, w.channel, w.segment, w.customer_ref,
       count(*) OVER ()::int AS total
FROM waiting w LEFT JOIN read.teams t ON t.id = w.team_id
ORDER BY w.received_at, w.key
LIMIT $10
"""


@reads("nps", "feedback", "directory")
async def follow_up_queue(
    conn: Connection, selection: Selection, *, limit: int = 50, now: datetime | None = None
) -> FollowUpQueue:
    """The detractors of the selection whose loop is not closed yet, oldest first."""
    size = page_limit(limit)
    rows = await conn.fetch(_QUEUE, *selection.args(), now, size)
    items = []
    for r in rows:
        fields = dict(r)
        fields.pop("total")
        items.append(Detractor(**fields))
    return FollowUpQueue(total=rows[0]["total"] if rows else 0, items=items)


class FollowUpGroup(Row, frozen=True, kw_only=True):
    """How one group's detractors were followed up.

    `detractors` received in the window; `followed_up` those contacted since (a follow-up
    recorded, or the loop closed);
    `due` those whose 48 hours are over (or who were followed up within them: a detractor
    answered an hour ago is not yet late); `within_48h` those followed up within 48 hours;
    `share_within_48h` = within_48h / due (null when none is due). `count`, `mean`, `p50`
    and `p85` summarise the seconds from the answer to the follow-up, over `followed_up`.
    """

    group: dict[str, str | None]
    detractors: int
    followed_up: int
    due: int
    within_48h: int
    share_within_48h: float | None
    count: int
    mean: float | None
    p50: float | None
    p85: float | None


class FollowUps(Row, frozen=True, kw_only=True):
    unit: str = "seconds"
    group_by: list[str]
    groups: list[FollowUpGroup]


# Seconds from the answer to its follow-up; NULL while none (greatest() alone would turn a
# NULL into 0). A loop closed before the answer (clocks disagree) counts as zero.
_SPAN = """(CASE WHEN c.followed_up_at IS NOT NULL
        THEN greatest(extract(epoch FROM c.followed_up_at - c.received_at), 0)::float8 END)"""

_FOLLOW_UP = f"""count(*)::int AS detractors,
       count(c.followed_up_at)::int AS followed_up,
       count(*) FILTER (WHERE c.followed_up_at <= c.received_at + interval '48 hours'
                        OR c.received_at + interval '48 hours' <= $9)::int AS due,
       count(*) FILTER (WHERE c.followed_up_at <= c.received_at + interval '48 hours')::int
           AS within_48h,
       avg({_SPAN})::float8 AS mean,
       percentile_cont(ARRAY[0.5, 0.85]::float8[]) WITHIN GROUP (ORDER BY {_SPAN})
           AS percentiles,
       min(c.received_at) AS earliest"""


def _follow_up_group(group: dict[str, str | None], r: Any | None) -> FollowUpGroup:
    if r is None:
        return FollowUpGroup(
            group=group,
            detractors=0,
            followed_up=0,
            due=0,
            within_48h=0,
            share_within_48h=None,
            count=0,
            mean=None,
            p50=None,
            p85=None,
        )
    followed = r["followed_up"]
    p = list(r["percentiles"]) if followed else [None, None]
    return FollowUpGroup(
        group=group,
        detractors=r["detractors"],
        followed_up=followed,
        due=r["due"],
        within_48h=r["within_48h"],
        share_within_48h=r["within_48h"] / r["due"] if r["due"] else None,
        count=followed,
        mean=r["mean"],
        p50=p[0],
        p85=p[1],
    )


@reads("nps", "feedback", "directory")
async def follow_ups(
    conn: Connection,
    selection: Selection,
    *,
    group_by: str | Sequence[str] | None = None,
    now: datetime | None = None,
) -> FollowUps:
    """Time to follow up the detractors received in the selection (answer → the first
    follow-up recorded or loop closed on its item, or the loop closed on its original for a
    duplicate), and the share followed up
    within 48 hours; in one group `{}` or per group (`team,week` for per team and week;
    periods form a series with empty ones present)."""
    dims = dimensions(group_by)
    moment = now or datetime.now(UTC)
    sql = _grouped_sql(_FOLLOW_UP, dims, where="c.class = 'detractor'")
    rows = await conn.fetch(sql, *selection.args(), moment)
    if not dims:
        return FollowUps(group_by=[], groups=[_follow_up_group({}, rows[0])])
    found: dict[tuple[Any, ...], dict[str, str | None]] = {}
    kept: dict[tuple[Any, ...], Any] = {}
    earliest: datetime | None = None
    for r in rows:
        group = _group(dims, r)
        found[_identity(group)] = group
        kept[_identity(group)] = r
        if earliest is None or r["earliest"] < earliest:
            earliest = r["earliest"]
    groups = [
        _follow_up_group(group, kept.get(_identity(group)))
        for group in _fill_periods(dims, found, selection, moment, earliest)
    ]
    return FollowUps(group_by=list(dims), groups=groups)
