"""List and detail queries over the read models: feedback, the ranked backlog with its
demand, increments, incidents, teams and outcomes; keyset cursors for the long lists."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec

from domain import vocabulary
from domain.vocabulary import (
    Channel,
    DecisionStatus,
    FeedbackStatus,
    Impact,
    IncidentStatus,
    IncrementStatus,
    in_order,
)
from infra.database import Connection
from projections.feedback import DEMAND, asks
from projections.reads import reads

T = TypeVar("T")

#: Decisions the backlog shows unless told otherwise: those that can still change course.
OPEN_DECISIONS = in_order(vocabulary.OPEN_DECISIONS)
#: Feedback statuses that count as not yet resolved (the open age of these is aging WIP).
OPEN_FEEDBACK = in_order(vocabulary.OPEN_FEEDBACK)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class InvalidQuery(ValueError):
    """Raised when a query parameter cannot be used: an unknown choice or a bad cursor."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every read-side answer: snake_case fields, keyword-only."""


class Page(Row, Generic[T], frozen=True, kw_only=True):
    """One page of a list, newest first; pass `next_cursor` back for the next page (None
    on the last page)."""

    items: list[T]
    next_cursor: str | None


# --- cursors ------------------------------------------------------------------------


def encode_cursor(at: datetime, tiebreak: int | UUID) -> str:
    """An opaque cursor for the keyset (`at`, `tiebreak`) of the last row of a page."""
    raw = msgspec.json.encode([at.isoformat(), str(tiebreak)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The keyset inside a cursor; raises `InvalidQuery` for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, tiebreak = msgspec.json.decode(raw, type=tuple[datetime, str])
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise InvalidQuery("cursor", "not a cursor this API issued") from None
    if at.tzinfo is None:
        raise InvalidQuery("cursor", "not a cursor this API issued")
    return at, tiebreak


def team_ref(team: str | UUID | None) -> str | None:
    """A team id or slug as the queries compare it (`slug = $n OR id::text = $n`)."""
    if team is None:
        return None
    if isinstance(team, UUID):
        return str(team)
    try:
        return str(UUID(team))
    except ValueError:
        return team.strip().lower()


def uuid_text(value: str | UUID | None) -> str | None:
    """An id as text for `id::text = $n` filters; anything unparsable matches nothing."""
    if value is None:
        return None
    if isinstance(value, UUID):
        return str(value)
    try:
        return str(UUID(value))
    except ValueError:
        return value


def asked_by(alias: str, segment: int, customer: int) -> str:
    """The SQL predicate "a customer of segment `$segment` and named `$customer` asked
    this" over the feedback item `alias` (each check skipped when its parameter is NULL).

    The segment is the item's own (who asked first); the customer is the item's own or
    any whose duplicate was merged into it. Both compare without regard to case, so an
    unknown value matches nothing.
    """
    return (
        f"(${segment}::text IS NULL OR lower({alias}.segment) = lower(${segment}))"
        f" AND (${customer}::text IS NULL OR lower({alias}.customer_ref) = lower(${customer})"
        f" OR EXISTS (SELECT 1 FROM unnest({alias}.customers) AS asker(ref)"
        f" WHERE lower(asker.ref) = lower(${customer})))"
    )


def who_asked(segment: str | None, customer: str | None) -> tuple[str | None, str | None]:
    """The values `asked_by` compares: stripped, None when blank."""
    return (segment.strip() or None if segment else None), (
        customer.strip() or None if customer else None
    )


def statuses(status: str | Sequence[str] | None) -> list[str] | None:
    if status is None:
        return None
    return [status] if isinstance(status, str) else list(status)


def page_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery("limit", f"must be from 1 to {MAX_LIMIT}")
    return limit


# --- feedback -----------------------------------------------------------------------


class FeedbackItem(Row, frozen=True, kw_only=True):
    """One feedback item as the inbox and item list show it."""

    id: UUID
    key: str
    number: int
    status: FeedbackStatus
    channel: Channel
    touchpoint: str
    text: str
    customer_ref: str | None
    segment: str | None
    nps: int | None
    nps_reason: str | None
    external_ref: str | None
    received_at: datetime
    earliest_received_at: datetime
    team_id: UUID | None
    team: str | None
    tags: list[str]
    impact: Impact | None
    outcome_id: UUID | None
    decision_id: UUID | None
    decision: str | None
    deferred_until: date | None
    reason: str | None
    duplicate_of: UUID | None
    duplicate_of_key: str | None
    duplicates: int
    demand: int
    customers: list[str]
    triaged_at: datetime | None
    decided_at: datetime | None
    shipped_at: datetime | None
    closed_at: datetime | None
    followed_up_at: datetime | None
    version: int
    position: int
    updated_at: datetime


class FeedbackPage(Page[FeedbackItem], frozen=True, kw_only=True):
    """A page of feedback items; `total` is how many items match the filters, counted on
    the first page only (None on the pages a cursor asks for: the caller has it)."""

    # Restated: OpenAPI generation does not carry a generic base's parameter into a
    # named subclass, and the page's items would be published as bare objects.
    items: list[FeedbackItem]
    total: int | None = None


_FEEDBACK_COLUMNS = """
    f.id, f.key, f.number, f.status, f.channel, f.touchpoint, f.text, f.customer_ref,
    f.segment, f.nps, f.nps_reason, f.external_ref, f.received_at, f.earliest_received_at,
    f.team_id, t.slug AS team, f.tags, f.impact, f.outcome_id, f.decision_id,
    d.key AS decision, f.deferred_until, f.reason, f.duplicate_of,
    o.key AS duplicate_of_key, f.duplicates, f.demand, f.customers, f.triaged_at,
    f.decided_at, f.shipped_at, f.closed_at, f.followed_up_at, f.version, f.position, f.updated_at
FROM read.feedback_items f
LEFT JOIN read.teams t ON t.id = f.team_id
LEFT JOIN read.decisions d ON d.id = f.decision_id
LEFT JOIN read.feedback_items o ON o.id = f.duplicate_of
"""

# The filters of the item list, over `f` with parameters $1-$8, $11 and $12 (the
# keyset cursor and the limit take $9, $10 and $13 where the page query uses them).
_FEEDBACK_FILTERS = """
WHERE ($1::text IS NULL
       OR f.team_id IN (SELECT id FROM read.teams WHERE slug = $1 OR id::text = $1))
  AND ($2::text[] IS NULL OR f.status = ANY($2))
  AND ($3::text IS NULL OR f.channel = $3)
  AND ($4::text IS NULL OR f.touchpoint = $4)
  AND ($5::text IS NULL OR f.outcome_id::text = $5)
  AND ($6::text IS NULL OR f.search @@ websearch_to_tsquery('english', $6))
  AND ($7::timestamptz IS NULL OR f.received_at >= $7)
  AND ($8::timestamptz IS NULL OR f.received_at < $8)
  AND """ + asked_by("f", 9, 10)

_LIST_FEEDBACK = (
    "SELECT"
    + _FEEDBACK_COLUMNS
    + _FEEDBACK_FILTERS
    + """
  AND ($11::timestamptz IS NULL OR (f.received_at, f.number) < ($11, $12::integer))
ORDER BY f.received_at DESC, f.number DESC
LIMIT $13
"""
)

# The same filters counted: no joins, so PostgreSQL can answer from the indexes on
# (status, received_at) and (team_id, status) where the filters allow.
_COUNT_FEEDBACK = "SELECT count(*) FROM read.feedback_items f" + _FEEDBACK_FILTERS

_ONE_FEEDBACK = "SELECT" + _FEEDBACK_COLUMNS + "WHERE f.id = $1 OR f.key = $2"


def _decode(row: Any, type_: type[T]) -> T:
    return msgspec.convert(dict(row), type_)


@reads("feedback", "directory", "backlog")
async def list_feedback(
    conn: Connection,
    *,
    team: str | UUID | None = None,
    status: str | Sequence[str] | None = None,
    channel: str | None = None,
    touchpoint: str | None = None,
    outcome: str | UUID | None = None,
    q: str | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    segment: str | None = None,
    customer: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> FeedbackPage:
    """Feedback items, newest received first (then highest number), filtered.

    `team` is an id or slug; `status` one status or several; `q` is full-text search in
    web-search syntax (`"exact phrase" -word or`) over key, text, NPS reason and customer;
    `received_from` is inclusive, `received_to` exclusive; `segment` and `customer` as
    `asked_by` says. Duplicates are listed too (filter `status` to hide them).
    """
    after_at, after_number = (None, None) if cursor is None else decode_cursor(cursor)
    number = None
    if after_number is not None:
        try:
            number = int(after_number)
        except ValueError:
            raise InvalidQuery("cursor", "not a cursor this API issued") from None
    size = page_limit(limit)
    filters = (
        team_ref(team),
        statuses(status),
        channel.strip().lower() if channel else None,
        touchpoint.strip().lower() if touchpoint else None,
        uuid_text(outcome),
        q if q and q.strip() else None,
        received_from,
        received_to,
        *who_asked(segment, customer),
    )
    total: int | None = None
    # One snapshot for the page and its count, so "n of total" never disagrees with
    # itself while the projections write.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await conn.fetch(_LIST_FEEDBACK, *filters, after_at, number, size + 1)
        if cursor is None:
            more_than_page = len(rows) > size
            total = await conn.fetchval(_COUNT_FEEDBACK, *filters) if more_than_page else len(rows)
    items = [_decode(r, FeedbackItem) for r in rows[:size]]
    more = len(rows) > size
    last = items[-1] if items and more else None
    return FeedbackPage(
        items=items,
        next_cursor=encode_cursor(last.received_at, last.number) if last else None,
        total=total,
    )


@reads("feedback", "directory", "backlog")
async def get_feedback_item(conn: Connection, ref: str | UUID) -> FeedbackItem | None:
    """One feedback item by id or key (`FB-12`, any case); None when there is none."""
    item_id: UUID | None = ref if isinstance(ref, UUID) else None
    key: str | None = None
    if item_id is None:
        try:
            item_id = UUID(str(ref))
        except ValueError:
            key = str(ref).strip().upper()
    row = await conn.fetchrow(_ONE_FEEDBACK, item_id, key)
    return None if row is None else _decode(row, FeedbackItem)


# --- decisions: the ranked backlog with its demand -----------------------------------


class BacklogDecision(Row, frozen=True, kw_only=True):
    """A decision with the demand behind it (docs/metrics.md, "Demand"): the `items` it
    answers (`feedback`, their keys); `demand`, every ask behind them (each item and the
    duplicates merged into it); the distinct `customers` among those asks, and the
    `detractors` among them (NPS 0-6).
    """

    id: UUID
    key: str
    number: int
    team_id: UUID
    team: str | None
    title: str
    rationale: str
    options: list[str]
    outcome_id: UUID | None
    status: DecisionStatus
    rank: int | None
    proposed_by: str | None
    proposed_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    started_at: datetime | None
    shipped_at: datetime | None
    superseded_by: UUID | None
    feedback: list[str]
    items: int
    demand: int
    customers: int
    detractors: int
    version: int
    position: int
    updated_at: datetime


_DECISIONS = f"""
WITH chosen AS (
    SELECT d.* FROM read.decisions d
    WHERE ($1::text IS NULL
           OR d.team_id IN (SELECT id FROM read.teams WHERE slug = $1 OR id::text = $1))
      AND ($2::text[] IS NULL OR d.status = ANY($2))
      AND ($3::uuid IS NULL OR d.id = $3)
      AND ($4::text IS NULL OR d.key = $4)
),
linked AS (
    SELECT l.decision_id AS grp, l.feedback_id AS id
    FROM read.decision_feedback l JOIN chosen c ON c.id = l.decision_id
),
keys AS (
    SELECT l.grp AS decision_id, array_agg(f.key ORDER BY f.number) AS feedback
    FROM linked l JOIN read.feedback_items f ON f.id = l.id GROUP BY l.grp
),
-- Demand is counted over every ask behind the decision: its items and their duplicates.
asks AS ({asks("linked")}),
demand AS (SELECT grp AS decision_id, {DEMAND} FROM asks GROUP BY grp)
SELECT c.id, c.key, c.number, c.team_id, t.slug AS team, c.title, c.rationale, c.options,
       c.outcome_id, c.status, c.rank, c.proposed_by, c.proposed_at, c.decided_by,
       c.decided_at, c.started_at, c.shipped_at, c.superseded_by,
       coalesce(k.feedback, '{{}}') AS feedback, coalesce(dm.items, 0) AS items,
       coalesce(dm.demand, 0) AS demand, coalesce(dm.customers, 0) AS customers,
       coalesce(dm.detractors, 0) AS detractors,
       c.version, c.position, c.updated_at
FROM chosen c
LEFT JOIN read.teams t ON t.id = c.team_id
LEFT JOIN keys k ON k.decision_id = c.id
LEFT JOIN demand dm ON dm.decision_id = c.id
ORDER BY c.rank NULLS LAST, c.number
"""


@reads("backlog", "feedback", "directory")
async def backlog(
    conn: Connection,
    team: str | UUID | None = None,
    *,
    status: str | Sequence[str] | None = OPEN_DECISIONS,
) -> list[BacklogDecision]:
    """A team's decisions (every team's when `team` is None), ranked: rank ascending with
    unranked last, then by number; with their demand.

    By default the open decisions (proposed, accepted, in progress); `status=None` lists
    every decision.
    """
    rows = await conn.fetch(_DECISIONS, team_ref(team), statuses(status), None, None)
    return [_decode(r, BacklogDecision) for r in rows]


@reads("backlog", "feedback", "directory")
async def get_decision_item(conn: Connection, ref: str | UUID) -> BacklogDecision | None:
    """One decision, with its demand, by id or key (`DEC-3`, any case)."""
    decision_id: UUID | None = ref if isinstance(ref, UUID) else None
    key: str | None = None
    if decision_id is None:
        try:
            decision_id = UUID(str(ref))
        except ValueError:
            key = str(ref).strip().upper()
    row = await conn.fetchrow(_DECISIONS, None, None, decision_id, key)
    return None if row is None else _decode(row, BacklogDecision)


# --- increments and incidents ------------------------------------------------------


class IncrementItem(Row, frozen=True, kw_only=True):
    """A recorded increment (deployment), with the feedback and decision keys it named."""

    id: UUID
    service: str
    team_id: UUID | None
    team: str | None
    environment: str
    production: bool
    release_version: str | None
    commit_sha: str | None
    started_at: datetime
    finished_at: datetime
    status: IncrementStatus
    reason: str | None
    commits: int
    feedback_refs: list[str]
    decision_refs: list[str]
    external_ref: str | None
    version: int
    position: int


class IncrementPage(Page[IncrementItem], frozen=True, kw_only=True):
    """A page of increments."""

    items: list[IncrementItem]  # restated for the OpenAPI document, as in FeedbackPage


_LIST_INCREMENTS = """
SELECT i.id, i.service, r.team_id, t.slug AS team, i.environment, i.production,
       i.release_version, i.commit_sha, i.started_at, i.finished_at, i.status, i.reason,
       i.commits, i.feedback_refs, i.decision_refs, i.external_ref, i.version, i.position
FROM read.increments i
LEFT JOIN read.team_repositories r ON r.repository = i.service
LEFT JOIN read.teams t ON t.id = r.team_id
WHERE ($1::text IS NULL
       OR r.team_id IN (SELECT id FROM read.teams WHERE slug = $1 OR id::text = $1))
  AND ($2::text IS NULL OR i.service = $2)
  AND ($3::boolean IS NULL OR i.production = $3)
  AND ($4::text[] IS NULL OR i.status = ANY($4))
  AND ($5::timestamptz IS NULL OR (i.finished_at, i.id) < ($5, $6::uuid))
ORDER BY i.finished_at DESC, i.id DESC
LIMIT $7
"""


@reads("delivery", "directory")
async def list_increments(
    conn: Connection,
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    production: bool | None = None,
    status: str | Sequence[str] | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> IncrementPage:
    """Increments, most recently finished first. `team` selects the services it owns;
    `status` is succeeded, failed or rolled_back."""
    after_at, after_id = None, None
    if cursor is not None:
        after_at, raw_id = decode_cursor(cursor)
        after_id = _cursor_uuid(raw_id)
    size = page_limit(limit)
    rows = await conn.fetch(
        _LIST_INCREMENTS,
        team_ref(team),
        service.strip().lower() if service else None,
        production,
        statuses(status),
        after_at,
        after_id,
        size + 1,
    )
    items = [_decode(r, IncrementItem) for r in rows[:size]]
    last = items[-1] if items and len(rows) > size else None
    return IncrementPage(
        items=items, next_cursor=encode_cursor(last.finished_at, last.id) if last else None
    )


class IncidentItem(Row, frozen=True, kw_only=True):
    """A production incident."""

    id: UUID
    service: str
    team_id: UUID | None
    team: str | None
    title: str
    status: IncidentStatus
    opened_at: datetime
    resolved_at: datetime | None
    caused_by_sha: str | None
    caused_by_increment_id: UUID | None
    resolution: str | None
    external_ref: str | None
    version: int
    position: int


class IncidentPage(Page[IncidentItem], frozen=True, kw_only=True):
    """A page of incidents."""

    items: list[IncidentItem]  # restated for the OpenAPI document, as in FeedbackPage


_LIST_INCIDENTS = """
SELECT n.id, n.service, r.team_id, t.slug AS team, n.title, n.status, n.opened_at,
       n.resolved_at, n.caused_by_sha, n.caused_by_increment_id, n.resolution,
       n.external_ref, n.version, n.position
FROM read.incidents n
LEFT JOIN read.team_repositories r ON r.repository = n.service
LEFT JOIN read.teams t ON t.id = r.team_id
WHERE ($1::text IS NULL
       OR r.team_id IN (SELECT id FROM read.teams WHERE slug = $1 OR id::text = $1))
  AND ($2::text IS NULL OR n.service = $2)
  AND ($3::text[] IS NULL OR n.status = ANY($3))
  AND ($4::timestamptz IS NULL OR (n.opened_at, n.id) < ($4, $5::uuid))
ORDER BY n.opened_at DESC, n.id DESC
LIMIT $6
"""


@reads("delivery", "directory")
async def list_incidents(
    conn: Connection,
    *,
    team: str | UUID | None = None,
    service: str | None = None,
    status: str | Sequence[str] | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> IncidentPage:
    """Incidents, most recently opened first; `status` is open or resolved."""
    after_at, after_id = None, None
    if cursor is not None:
        after_at, raw_id = decode_cursor(cursor)
        after_id = _cursor_uuid(raw_id)
    size = page_limit(limit)
    rows = await conn.fetch(
        _LIST_INCIDENTS,
        team_ref(team),
        service.strip().lower() if service else None,
        statuses(status),
        after_at,
        after_id,
        size + 1,
    )
    items = [_decode(r, IncidentItem) for r in rows[:size]]
    last = items[-1] if items and len(rows) > size else None
    return IncidentPage(
        items=items, next_cursor=encode_cursor(last.opened_at, last.id) if last else None
    )


def _cursor_uuid(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidQuery("cursor", "not a cursor this API issued") from None


# --- teams and outcomes ------------------------------------------------------------


class MemberItem(Row, frozen=True, kw_only=True):
    handle: str
    skills: list[str]
    joined_at: datetime


class TeamItem(Row, frozen=True, kw_only=True):
    """A team with its members (by handle and skills) and the repositories it owns."""

    id: UUID
    slug: str
    name: str
    formed_at: datetime
    members: list[MemberItem]
    repositories: list[str]
    outcome_ids: list[UUID]
    version: int
    position: int


_TEAMS = """
SELECT t.id, t.slug, t.name, t.formed_at, t.outcome_ids, t.version, t.position,
       coalesce((SELECT json_agg(json_build_object('handle', m.handle, 'skills', m.skills,
                                                   'joined_at', m.joined_at)
                                 ORDER BY m.handle)
                 FROM read.team_members m WHERE m.team_id = t.id), '[]') AS members,
       ARRAY(SELECT r.repository FROM read.team_repositories r WHERE r.team_id = t.id
             ORDER BY r.repository) AS repositories
FROM read.teams t
WHERE ($1::text IS NULL OR t.slug = $1 OR t.id::text = $1)
ORDER BY t.slug
"""


def _team(row: Any) -> TeamItem:
    fields = dict(row)
    fields["members"] = msgspec.json.decode(fields["members"], type=list[MemberItem])
    return msgspec.convert(fields, TeamItem)


@reads("directory")
async def list_teams(conn: Connection) -> list[TeamItem]:
    """Every team, by slug."""
    return [_team(r) for r in await conn.fetch(_TEAMS, None)]


@reads("directory")
async def get_team_item(conn: Connection, team: str | UUID) -> TeamItem | None:
    """One team by id or slug; None when there is none."""
    row = await conn.fetchrow(_TEAMS, team_ref(team))
    return None if row is None else _team(row)


class OutcomeItem(Row, frozen=True, kw_only=True):
    """A customer outcome, how it is measured, and the teams aligned to it."""

    id: UUID
    statement: str
    measure: str
    target: str | None
    status: str
    team_ids: list[UUID]
    teams: list[str]
    defined_at: datetime
    retired_reason: str | None
    version: int
    position: int


_OUTCOMES = """
SELECT o.id, o.statement, o.measure, o.target, o.status, o.team_ids,
       ARRAY(SELECT t.slug FROM unnest(o.team_ids) WITH ORDINALITY AS u(id, n)
             JOIN read.teams t ON t.id = u.id ORDER BY u.n) AS teams,
       o.defined_at, o.retired_reason, o.version, o.position
FROM read.outcomes o
WHERE ($1::uuid IS NULL OR o.id = $1)
ORDER BY o.defined_at, o.id
"""


@reads("directory")
async def list_outcomes(conn: Connection) -> list[OutcomeItem]:
    """Every outcome, oldest defined first."""
    return [_decode(r, OutcomeItem) for r in await conn.fetch(_OUTCOMES, None)]


@reads("directory")
async def get_outcome_item(conn: Connection, outcome_id: str | UUID) -> OutcomeItem | None:
    """One outcome by id; None when there is none (or the id is not a UUID)."""
    try:
        wanted = outcome_id if isinstance(outcome_id, UUID) else UUID(outcome_id)
    except ValueError:
        return None
    row = await conn.fetchrow(_OUTCOMES, wanted)
    return None if row is None else _decode(row, OutcomeItem)
