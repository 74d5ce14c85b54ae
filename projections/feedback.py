"""Feedback items: the triage inbox, the item list with full-text search, and each
item's lead-time milestones (triaged, decided, shipped, loop closed, first followed up)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from domain.feedback import Feedback, live_events
from domain.lifecycle import status_after
from domain.vocabulary import OPEN_FEEDBACK, PASSIVE, Channel, FeedbackStatus, Impact, sql_list
from infra.database import Connection
from infra.recorder import select_events
from infra.transcoder import EventMapper
from projections.base import Positioned, Projection, events_of
from projections.paging import (
    DEFAULT_LIMIT,
    InvalidQuery,
    Page,
    Row,
    decode,
    decode_cursor,
    encode_cursor,
    page_limit,
    statuses,
    team_ref,
    uuid_text,
)
from projections.reads import reads
from projections.rows import Rows

COLUMNS = (
    "id",
    "key",
    "number",
    "channel",
    "touchpoint",
    "text",
    "customer_ref",
    "segment",
    "nps",
    "nps_reason",
    "external_ref",
    "received_at",
    "earliest_received_at",
    "status",
    "team_id",
    "tags",
    "impact",
    "outcome_id",
    "decision_id",
    "deferred_until",
    "reason",
    "duplicate_of",
    "duplicates",
    "demand",
    "customers",
    "triaged_at",
    "decided_at",
    "shipped_at",
    "closed_at",
    "followed_up_at",
    "version",
    "position",
    "updated_at",
)

SCHEMA = """
CREATE TABLE feedback_items (
    id uuid PRIMARY KEY,
    key text NOT NULL,
    number integer NOT NULL,
    channel text NOT NULL,
    touchpoint text NOT NULL,
    text text NOT NULL,
    customer_ref text,
    segment text,
    nps smallint,
    nps_reason text,
    external_ref text,
    received_at timestamptz NOT NULL,
    earliest_received_at timestamptz NOT NULL,
    status text NOT NULL,
    team_id uuid,
    tags text[] NOT NULL DEFAULT '{}',
    impact text,
    outcome_id uuid,
    decision_id uuid,
    deferred_until date,
    reason text,
    duplicate_of uuid,
    duplicates integer NOT NULL DEFAULT 0,
    demand integer NOT NULL DEFAULT 1,
    customers text[] NOT NULL DEFAULT '{}',
    triaged_at timestamptz,
    decided_at timestamptz,
    shipped_at timestamptz,
    closed_at timestamptz,
    -- The customer's first contact (a follow-up or the loop closing), in the world's time.
    followed_up_at timestamptz,
    version integer NOT NULL,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
"""


INDEXES_SQL = """
-- The full-text search vector, computed once per row when a build has caught up (a table
-- rewrite) rather than at every write of a row while it does; generated from then on.
ALTER TABLE feedback_items ADD COLUMN IF NOT EXISTS search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', coalesce(key, '')), 'A')
    || setweight(to_tsvector('english', text), 'B')
    || setweight(to_tsvector('english', coalesce(nps_reason, '')), 'C')
    || setweight(to_tsvector('simple', coalesce(customer_ref, '')), 'D')
) STORED;
CREATE UNIQUE INDEX ON feedback_items (key);
CREATE INDEX ON feedback_items (status, received_at DESC);
CREATE INDEX ON feedback_items (team_id, status);
CREATE INDEX ON feedback_items (received_at DESC, number DESC);
CREATE INDEX ON feedback_items (decision_id) WHERE decision_id IS NOT NULL;
CREATE INDEX ON feedback_items (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX ON feedback_items (channel, external_ref);
CREATE INDEX ON feedback_items USING gin (search);
-- Covering indexes for the lead-time measures: one per span end, holding what the
-- metric queries filter and group by, so they read the index and not the wide rows.
CREATE INDEX ON feedback_items (triaged_at)
    INCLUDE (earliest_received_at, team_id, channel, touchpoint, outcome_id)
    WHERE status <> '{duplicate}' AND triaged_at IS NOT NULL;
CREATE INDEX ON feedback_items (decided_at)
    INCLUDE (earliest_received_at, team_id, channel, touchpoint, outcome_id)
    WHERE status <> '{duplicate}' AND decided_at IS NOT NULL;
CREATE INDEX ON feedback_items (shipped_at)
    INCLUDE (earliest_received_at, team_id, channel, touchpoint, outcome_id)
    WHERE status <> '{duplicate}' AND shipped_at IS NOT NULL;
CREATE INDEX ON feedback_items (closed_at)
    INCLUDE (earliest_received_at, team_id, channel, touchpoint, outcome_id)
    WHERE status <> '{duplicate}' AND closed_at IS NOT NULL;
CREATE INDEX ON feedback_items (status)
    INCLUDE (earliest_received_at, team_id, channel, touchpoint, outcome_id)
    WHERE status IN {open};
-- The same per team: a team's window is one range of these.
CREATE INDEX ON feedback_items (team_id, triaged_at)
    INCLUDE (earliest_received_at, channel, touchpoint, outcome_id)
    WHERE status <> '{duplicate}' AND triaged_at IS NOT NULL;
CREATE INDEX ON feedback_items (team_id, decided_at)
    INCLUDE (earliest_received_at, channel, touchpoint, outcome_id)
    WHERE status <> '{duplicate}' AND decided_at IS NOT NULL;
CREATE INDEX ON feedback_items (team_id, shipped_at)
    INCLUDE (earliest_received_at, channel, touchpoint, outcome_id)
    WHERE status <> '{duplicate}' AND shipped_at IS NOT NULL;
CREATE INDEX ON feedback_items (team_id, closed_at)
    INCLUDE (earliest_received_at, channel, touchpoint, outcome_id)
    WHERE status <> '{duplicate}' AND closed_at IS NOT NULL;
"""


def asks(items: str) -> str:
    """SQL for every ask behind some items: each item itself and each duplicate merged into
    it, as rows `(grp, item_id, ask_id, customer_ref, nps)`. `items` is a relation (a CTE's
    name or a parenthesised SELECT) with columns `grp` (what the figures are grouped by: a
    decision, an outcome) and `id` (an item). Count them with `DEMAND`."""
    return f"""
    SELECT i.grp, i.id AS item_id, a.id AS ask_id, a.customer_ref, a.nps
    FROM {items} i JOIN read.feedback_items a ON a.id = i.id
    UNION ALL
    SELECT i.grp, i.id, a.id, a.customer_ref, a.nps
    FROM {items} i JOIN read.feedback_items a ON a.duplicate_of = i.id
    WHERE a.status = '{FeedbackStatus.DUPLICATE}'
    """


#: The one definition of demand (docs/metrics.md, "Demand"), over `asks` rows: `items`
#: asked about, `demand` (every ask), distinct `customers` among the askers (by customer
#: reference) and the `detractors` among them (scored 0-6).
DEMAND = f"""count(DISTINCT item_id)::int AS items, count(*)::int AS demand,
    count(DISTINCT customer_ref)::int AS customers,
    count(DISTINCT customer_ref) FILTER (WHERE nps < {PASSIVE})::int AS detractors"""


INDEXES = INDEXES_SQL.format(duplicate=FeedbackStatus.DUPLICATE, open=sql_list(OPEN_FEEDBACK))

# Decodes an item's stored events when a correction makes the row be recomputed.
_MAPPER = EventMapper()


def _number(key: str) -> int:
    try:
        return int(key.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def _first(current: Any, value: Any) -> Any:
    return current if current is not None else value


def _earliest(current: Any, value: Any) -> Any:
    return value if current is None or value < current else current


class FeedbackItems(Projection):
    """One row per feedback item, current state plus first-time milestones."""

    name = "feedback"
    version = 6
    tables = ("feedback_items",)
    topics = events_of(
        Feedback,
        "Received",
        "Triaged",
        "Planned",
        "Unplanned",
        "Declined",
        "Deferred",
        "Reopened",
        "MarkedShipped",
        "LoopClosed",
        "FollowedUp",
        "MarkedDuplicate",
        "DuplicateRepointed",
        "DemandMerged",
        "DemandReturned",
        "TextEdited",
        "Retagged",
        "Corrected",
    )

    def schema_sql(self) -> str:
        return SCHEMA

    def index_sql(self) -> str:
        return INDEXES

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        rows = Rows("feedback_items", "id", COLUMNS)
        # An item received in this batch is created by it (events are applied once): only
        # the others are looked for in the table.
        created = {e.originator_id for _, e in events if type(e).__name__ == "Received"}
        await rows.load(
            conn, (e.originator_id for _, e in events if e.originator_id not in created)
        )
        for position, e in events:
            kind = type(e).__name__
            if kind == "Received":
                row = self._received(rows, e, created=True)
            elif kind in ("Corrected", "DemandReturned"):
                row = await self._recompute(conn, rows, e.originator_id, e.originator_version)
            else:
                row = self._changed(rows, kind, e)
            row["version"] = e.originator_version
            row["position"] = position
            row["updated_at"] = e.timestamp
        await rows.flush(conn)

    async def _recompute(
        self, conn: Connection, rows: Rows, item_id: UUID, version: int
    ) -> dict[str, Any]:
        """The item's row rebuilt from its events up to `version` that still count, as if
        the cancelled ones (and demand that returned to its duplicate) never happened:
        first-triage, decision, ship and close times included."""
        mapper = _MAPPER
        stored = await select_events(conn, item_id, lte_version=version)
        counted = _without_returned_demand(live_events([mapper.to_domain_event(s) for s in stored]))
        row = self._received(rows, counted[0])
        for e in counted[1:]:
            self._changed(rows, type(e).__name__, e)
        return row

    @staticmethod
    def _received(rows: Rows, e: Any, *, created: bool = False) -> dict[str, Any]:
        customers = [e.customer_ref] if e.customer_ref else []
        return rows.add(
            {
                "id": e.originator_id,
                "key": e.key,
                "number": _number(e.key),
                "channel": e.channel,
                "touchpoint": e.touchpoint,
                "text": e.text,
                "customer_ref": e.customer_ref,
                "segment": e.segment,
                "nps": e.nps,
                "nps_reason": e.nps_reason,
                "external_ref": e.external_ref,
                "received_at": e.received_at,
                "earliest_received_at": e.received_at,
                "status": status_after(e),
                "tags": [],
                "duplicates": 0,
                "demand": 1,
                "customers": customers,
            },
            new=created,
        )

    @staticmethod
    def _changed(rows: Rows, kind: str, e: Any) -> dict[str, Any]:
        """Change the item's row for event `e` of class `kind`; returns the row (changed)."""
        row = rows.get(e.originator_id)
        if row is None:
            raise LookupError(f"{kind} for feedback {e.originator_id} that was never received")
        change = rows.change
        fid = e.originator_id
        if kind == "Triaged":
            change(
                fid,
                status=status_after(e),
                team_id=e.team_id,
                tags=list(e.tags),
                impact=e.impact,
                outcome_id=e.outcome_id,
                deferred_until=None,
                triaged_at=_first(row["triaged_at"], e.triaged_at),
            )
        elif kind == "Planned":
            change(
                fid,
                status=status_after(e),
                decision_id=e.decision_id,
                decided_at=_first(row["decided_at"], e.planned_at),
            )
        elif kind == "Unplanned":
            change(fid, status=status_after(e), decision_id=None)
        elif kind == "Declined":
            change(
                fid,
                status=status_after(e),
                reason=e.reason,
                decision_id=e.decision_id,
                decided_at=_first(row["decided_at"], e.declined_at),
            )
        elif kind == "Deferred":
            change(fid, status=status_after(e), deferred_until=e.until, reason=e.reason)
        elif kind == "Reopened":
            change(fid, status=status_after(e), reason=e.reason, decision_id=None)
        elif kind == "MarkedShipped":
            change(fid, status=status_after(e), shipped_at=_first(row["shipped_at"], e.shipped_at))
        elif kind == "LoopClosed":
            change(
                fid,
                status=status_after(e),
                closed_at=_first(row["closed_at"], e.closed_at),
                followed_up_at=_earliest(row["followed_up_at"], e.closed_at),
            )
        elif kind == "FollowedUp":
            change(fid, followed_up_at=_earliest(row["followed_up_at"], e.followed_up_at))
        elif kind == "MarkedDuplicate":
            change(fid, status=status_after(e), duplicate_of=e.original_id, demand=0, customers=[])
        elif kind == "DuplicateRepointed":
            change(fid, duplicate_of=e.original_id)
        elif kind == "DemandMerged":
            customers = list(row["customers"])
            for demand in e.demand:
                if demand.customer_ref and demand.customer_ref not in customers:
                    customers.append(demand.customer_ref)
            earliest = min([row["earliest_received_at"], *(d.received_at for d in e.demand)])
            change(
                fid,
                duplicates=row["duplicates"] + len(e.duplicate_ids),
                demand=row["demand"] + len(e.demand),
                customers=customers,
                earliest_received_at=earliest,
            )
        elif kind == "TextEdited":
            change(fid, text=e.text)
        elif kind == "Retagged":
            change(fid, tags=list(e.tags))
        else:
            change(fid)
        return row


def _without_returned_demand(events: Sequence[Any]) -> list[Any]:
    """`events` with the asks that a later `DemandReturned` took back removed from the
    `DemandMerged` that brought them (walking back, so an ask merged again after its return
    still counts)."""
    returned: set[UUID] = set()
    kept: list[Any] = []
    for e in reversed(events):
        if type(e).__name__ == "DemandReturned":
            returned.update(e.duplicate_ids, (d.feedback_id for d in e.demand))
        elif type(e).__name__ == "DemandMerged" and returned:
            hit = returned.intersection(e.duplicate_ids, (d.feedback_id for d in e.demand))
            if hit:
                e = dataclasses.replace(
                    e,
                    duplicate_ids=tuple(i for i in e.duplicate_ids if i not in hit),
                    demand=tuple(d for d in e.demand if d.feedback_id not in hit),
                )
                returned -= hit
        kept.append(e)
    kept.reverse()
    return kept


# --- queries: the item list and one item ---------------------------------------------


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
    items = [decode(r, FeedbackItem) for r in rows[:size]]
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
    return None if row is None else decode(row, FeedbackItem)
