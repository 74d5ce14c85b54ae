"""The durable inbox: verified deliveries, stored before the answer, mapped afterwards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from infra.database import Connection
from server.webhooks.integrations import Source

PENDING, MAPPED, IGNORED, FAILED = "pending", "mapped", "ignored", "failed"
STATES = (PENDING, MAPPED, IGNORED, FAILED)
State = Literal["pending", "mapped", "ignored", "failed"]
"""Where a stored delivery stands (`STATES`)."""
MAX_BACKOFF = 3600.0


class Stored(msgspec.Struct, frozen=True):
    """The inbox row a delivery landed in; `duplicate` when its delivery id was known."""

    id: int
    state: State
    duplicate: bool


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """A stored delivery as operators see it (the body stays in the database)."""

    id: int
    source: Source
    delivery_id: str
    event: str
    repository: str | None
    state: State
    reason: str | None
    outcome: dict[str, Any] | None
    attempts: int
    received_at: datetime
    next_attempt_at: datetime | None
    mapped_at: datetime | None


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery the mapper holds (row-locked) while it maps it."""

    id: int
    source: str
    event: str
    repository: str | None
    integration_id: UUID | None
    body: bytes
    attempts: int


_INSERT = (
    "INSERT INTO webhook_deliveries (source, delivery_id, event, repository, integration_id,"
    " headers, body, next_attempt_at)"
    " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, now())"
    " ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id, state"
)
_INSERT_MANY = (
    "INSERT INTO webhook_deliveries (source, delivery_id, event, repository, integration_id,"
    " headers, body, next_attempt_at)"
    " SELECT s, d, e, r, i, h::jsonb, b, now() FROM unnest($1::text[], $2::text[], $3::text[],"
    " $4::text[], $5::uuid[], $6::text[], $7::bytea[]) WITH ORDINALITY AS u(s, d, e, r, i, h, b, n)"
    " ORDER BY n ON CONFLICT (source, delivery_id) DO NOTHING RETURNING delivery_id, id, state"
)
_KNOWN = (
    "SELECT delivery_id, id, state FROM webhook_deliveries"
    " WHERE source = $1 AND delivery_id = ANY($2::text[])"
)


class Arrival(msgspec.Struct, frozen=True, kw_only=True):
    """A verified delivery on its way into the inbox."""

    source: str
    delivery_id: str
    event: str
    repository: str | None
    integration_id: UUID
    headers: Mapping[str, str]
    body: bytes


async def store_delivery(
    conn: Connection,
    *,
    source: str,
    delivery_id: str,
    event: str,
    repository: str | None,
    integration_id: UUID,
    headers: Mapping[str, str],
    body: bytes,
) -> Stored:
    """Insert a verified delivery (one statement: one transaction); a known id is kept as is."""
    row = await conn.fetchrow(
        _INSERT,
        source,
        delivery_id,
        event,
        repository,
        integration_id,
        msgspec.json.encode(dict(headers)).decode(),
        body,
    )
    if row is not None:
        return Stored(id=row["id"], state=row["state"], duplicate=False)
    known = await conn.fetchrow(
        "SELECT id, state FROM webhook_deliveries WHERE source = $1 AND delivery_id = $2",
        source,
        delivery_id,
    )
    assert known is not None
    return Stored(id=known["id"], state=known["state"], duplicate=True)


async def store_deliveries(conn: Connection, arrivals: Sequence[Arrival]) -> list[Stored]:
    """Insert verified deliveries in one statement (one transaction, one WAL flush); each
    answer says where its delivery landed. The first of a delivery id is stored; a known id,
    or one repeated in `arrivals`, is kept as it is and answered as a duplicate."""
    inserted: dict[tuple[str, str], Stored] = {}
    for source in {a.source for a in arrivals}:
        first: dict[str, Arrival] = {}
        for arrival in arrivals:
            if arrival.source == source:
                first.setdefault(arrival.delivery_id, arrival)
        batch = list(first.values())
        rows = await conn.fetch(
            _INSERT_MANY,
            [source] * len(batch),
            [a.delivery_id for a in batch],
            [a.event for a in batch],
            [a.repository for a in batch],
            [a.integration_id for a in batch],
            [msgspec.json.encode(dict(a.headers)).decode() for a in batch],
            [a.body for a in batch],
        )
        for row in rows:
            inserted[source, row["delivery_id"]] = Stored(row["id"], row["state"], False)
        missing = [d for d in first if (source, d) not in inserted]
        known = (
            {r["delivery_id"]: r for r in await conn.fetch(_KNOWN, source, missing)}
            if missing
            else {}
        )
        for delivery_id, row in known.items():
            inserted[source, delivery_id] = Stored(row["id"], row["state"], True)
    answers: list[Stored] = []
    seen: set[tuple[str, str]] = set()
    for arrival in arrivals:
        key = (arrival.source, arrival.delivery_id)
        stored = inserted[key]
        answers.append(msgspec.structs.replace(stored, duplicate=True) if key in seen else stored)
        seen.add(key)
    return answers


_DELIVERY_COLUMNS = (
    "id, source, delivery_id, event, repository, state, reason, outcome, attempts,"
    " received_at, next_attempt_at, mapped_at"
)


def _delivery(row: asyncpg.Record) -> Delivery:
    outcome = row["outcome"]
    return Delivery(
        id=row["id"],
        source=row["source"],
        delivery_id=row["delivery_id"],
        event=row["event"],
        repository=row["repository"],
        state=row["state"],
        reason=row["reason"],
        outcome=msgspec.json.decode(outcome) if outcome is not None else None,
        attempts=row["attempts"],
        received_at=row["received_at"],
        next_attempt_at=row["next_attempt_at"],
        mapped_at=row["mapped_at"],
    )


async def list_deliveries(
    conn: Connection,
    *,
    state: str | None = None,
    source: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """Newest first; `before` (an id) pages back."""
    rows = await conn.fetch(
        f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries"
        " WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR source = $2)"
        " AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
        state,
        source,
        before,
        limit,
    )
    return [_delivery(row) for row in rows]


async def get_delivery(conn: Connection, delivery: int) -> Delivery | None:
    row = await conn.fetchrow(
        f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1", delivery
    )
    return None if row is None else _delivery(row)


async def counts(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT state, count(*) AS n FROM webhook_deliveries GROUP BY state")
    return {row["state"]: row["n"] for row in rows}


_CLAIM = (
    "SELECT id, source, event, repository, integration_id, body, attempts"
    " FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= now()"
    " AND received_at <= now() - make_interval(secs => $1::float8)"
    " ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
)


async def claim_due(conn: Connection, *, limit: int, delay: float = 0.0) -> list[Claimed]:
    """Lock up to `limit` due deliveries, oldest first, for the rest of the caller's
    transaction (other mappers skip them).

    Deliveries younger than `delay` seconds wait (LOOPLINE_WEBHOOK_MAP_DELAY).
    """
    if not conn.is_in_transaction():
        raise RuntimeError("claim_due must run inside the mapper's transaction")
    # The claim selects exactly Claimed's fields.
    return [Claimed(**row) for row in await conn.fetch(_CLAIM, delay, limit)]


async def settle(
    conn: Connection, delivery: int, state: str, reason: str | None, outcome: Any
) -> None:
    """Record a final answer: mapped or ignored (with why), off the queue."""
    await conn.execute(
        "UPDATE webhook_deliveries SET state = $2, reason = $3, outcome = $4::jsonb,"
        " attempts = attempts + 1, next_attempt_at = NULL, mapped_at = now() WHERE id = $1",
        delivery,
        state,
        reason,
        None if outcome is None else msgspec.json.encode(outcome).decode(),
    )


def backoff(attempts: int, base: float) -> float:
    """Seconds before retry number `attempts` (1, 2, …): base, 2·base, 4·base, … ≤ an hour."""
    return float(min(MAX_BACKOFF, base * 2 ** max(0, attempts - 1)))


async def fail(
    conn: Connection, delivery: int, reason: str, *, attempts: int, retry_in: float | None
) -> None:
    """Record a failed attempt; it is tried again in `retry_in` seconds, or never when None."""
    await conn.execute(
        "UPDATE webhook_deliveries SET state = 'failed', reason = $2, attempts = $3,"
        " next_attempt_at = CASE WHEN $4::float8 IS NULL THEN NULL"
        " ELSE now() + make_interval(secs => $4::float8) END WHERE id = $1",
        delivery,
        reason[:2000],
        attempts,
        retry_in,
    )


async def requeue(conn: Connection, *, ids: Sequence[int] = (), states: Sequence[str] = ()) -> int:
    """Queue stored deliveries to be mapped again (by id, or all in `states`); how many."""
    return len(await requeue_ids(conn, ids=ids, states=states))


async def requeue_ids(
    conn: Connection, *, ids: Sequence[int] = (), states: Sequence[str] = ()
) -> list[int]:
    """Queue stored deliveries to be mapped again (by id, or all in `states`); their ids."""
    rows = await conn.fetch(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = now(), attempts = 0"
        " WHERE (id = ANY($1::bigint[]) OR state = ANY($2::text[])) RETURNING id",
        list(ids),
        list(states),
    )
    return sorted(row["id"] for row in rows)
