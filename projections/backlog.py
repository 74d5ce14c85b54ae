"""Decisions: each team's ranked backlog, and the feedback each decision answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import vocabulary
from domain.decision import Decision
from domain.lifecycle import status_after
from domain.vocabulary import DecisionStatus, in_order
from infra.database import Connection
from projections.base import Positioned, Projection, events_of
from projections.feedback import DEMAND, asks
from projections.paging import Row, decode, statuses, team_ref
from projections.reads import reads
from projections.rows import Rows

COLUMNS = (
    "id",
    "key",
    "number",
    "team_id",
    "title",
    "rationale",
    "options",
    "outcome_id",
    "status",
    "rank",
    "proposed_by",
    "proposed_at",
    "decided_by",
    "decided_at",
    "started_at",
    "shipped_at",
    "superseded_by",
    "version",
    "position",
    "updated_at",
)

SCHEMA = """
CREATE TABLE decisions (
    id uuid PRIMARY KEY,
    key text NOT NULL UNIQUE,
    number integer NOT NULL,
    team_id uuid NOT NULL,
    title text NOT NULL,
    rationale text NOT NULL,
    options text[] NOT NULL DEFAULT '{}',
    outcome_id uuid,
    status text NOT NULL,
    rank integer,
    proposed_by text,
    proposed_at timestamptz NOT NULL,
    decided_by text,
    decided_at timestamptz,
    started_at timestamptz,
    shipped_at timestamptz,
    superseded_by uuid,
    version integer NOT NULL,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX ON decisions (team_id, status, rank);
CREATE TABLE decision_feedback (
    decision_id uuid NOT NULL,
    feedback_id uuid NOT NULL,
    PRIMARY KEY (decision_id, feedback_id)
);
CREATE INDEX ON decision_feedback (feedback_id);
"""


class Backlog(Projection):
    """One row per decision, and its linked feedback."""

    name = "backlog"
    version = 1
    tables = ("decisions", "decision_feedback")
    topics = events_of(
        Decision,
        "Proposed",
        "Accepted",
        "Declined",
        "Superseded",
        "Started",
        "MarkedShipped",
        "Ranked",
        "FeedbackLinked",
        "FeedbackUnlinked",
    )

    def schema_sql(self) -> str:
        return SCHEMA

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        rows = Rows("decisions", "id", COLUMNS)
        await rows.load(conn, (e.originator_id for _, e in events))
        links: list[tuple[Any, Any]] = []
        unlinks: list[tuple[Any, Any]] = []
        for position, e in events:
            kind = type(e).__name__
            did = e.originator_id
            if kind == "Proposed":
                rows.add(
                    {
                        "id": did,
                        "key": e.key,
                        "number": int(e.key.rsplit("-", 1)[-1]),
                        "team_id": e.team_id,
                        "title": e.title,
                        "rationale": e.rationale,
                        "options": list(e.options),
                        "outcome_id": e.outcome_id,
                        "status": status_after(e),
                        "proposed_by": e.proposed_by,
                        "proposed_at": e.proposed_at,
                    }
                )
                links.extend((did, f) for f in e.feedback_ids)
            elif rows.get(did) is None:
                raise LookupError(f"{kind} for decision {did} that was never proposed")
            elif kind == "Accepted":
                rows.change(
                    did, status=status_after(e), decided_by=e.decided_by, decided_at=e.decided_at
                )
            elif kind == "Declined":
                rows.change(
                    did,
                    status=status_after(e),
                    rationale=e.rationale,
                    decided_by=e.decided_by,
                    decided_at=e.decided_at,
                    rank=None,
                )
            elif kind == "Superseded":
                rows.change(did, status=status_after(e), superseded_by=e.by_decision_id, rank=None)
            elif kind == "Started":
                rows.change(did, status=status_after(e), started_at=e.started_at)
            elif kind == "MarkedShipped":
                rows.change(did, status=status_after(e), shipped_at=e.shipped_at, rank=None)
            elif kind == "Ranked":
                rows.change(did, rank=e.rank)
            elif kind == "FeedbackLinked":
                links.extend((did, f) for f in e.feedback_ids)
            elif kind == "FeedbackUnlinked":
                # An unlink cancels a link made earlier in this same batch.
                gone = set(e.feedback_ids)
                links = [(d, f) for d, f in links if not (d == did and f in gone)]
                unlinks.extend((did, f) for f in e.feedback_ids)
            rows.change(
                did, version=e.originator_version, position=position, updated_at=e.timestamp
            )
        await rows.flush(conn)
        if unlinks:
            await conn.executemany(
                "DELETE FROM decision_feedback WHERE decision_id = $1 AND feedback_id = $2", unlinks
            )
        if links:
            await conn.executemany(
                "INSERT INTO decision_feedback VALUES ($1, $2) ON CONFLICT DO NOTHING", links
            )


# --- queries: the ranked backlog with its demand --------------------------------------

#: Decisions the backlog shows unless told otherwise: those that can still change course.
OPEN_DECISIONS = in_order(vocabulary.OPEN_DECISIONS)


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
    return [decode(r, BacklogDecision) for r in rows]


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
    return None if row is None else decode(row, BacklogDecision)
