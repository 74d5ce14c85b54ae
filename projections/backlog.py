"""Decisions: each team's ranked backlog, and the feedback each decision answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.decision import Decision
from domain.lifecycle import status_after
from infra.database import Connection
from projections.base import Positioned, Projection, events_of
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
