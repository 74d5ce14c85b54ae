"""Async recorder of stored events on asyncpg, in eventsourcing's table layout.

Guarantees (see DESIGN.md "Event store"):
- `append` writes the events of several aggregates atomically; a taken
  (originator_id, originator_version) raises `ConcurrencyConflict` and writes nothing;
- inserts are serialised by an EXCLUSIVE table lock held until commit (inside
  `loopline_append`), so notification ids become visible in commit order;
- followers wake on LISTEN/NOTIFY and poll as a fallback;
- a projection's tracking position is written in the caller's transaction.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from eventsourcing.persistence import Notification, StoredEvent

from domain.errors import ConcurrencyConflict
from infra.counters import APPEND_CONFLICTS
from infra.database import DATABASE_ERRORS, Connection
from infra.waiting import wait_until_set

logger = logging.getLogger(__name__)

CHANNEL = "stored_events"

_APPEND = "SELECT loopline_append($1::uuid[], $2::bigint[], $3::text[], $4::bytea[])"
_SELECT_EVENTS = (
    "SELECT originator_id, originator_version, topic, state FROM stored_events "
    "WHERE originator_id = $1 AND ($2::bigint IS NULL OR originator_version <= $2) "
    "ORDER BY originator_version"
)
_SELECT_NOTIFICATIONS = (
    "SELECT notification_id, originator_id, originator_version, topic, state "
    "FROM stored_events WHERE notification_id > $1 "
    "AND ($2::bigint IS NULL OR notification_id <= $2) "
    "AND (cardinality($3::text[]) = 0 OR topic = ANY($3::text[])) "
    "ORDER BY notification_id LIMIT $4"
)
READ_MODELS_CHANNEL = "loopline_read_models"
"""NOTIFY channel: a tracked read model moved on (payload: its tracking name), delivered
when its transaction commits; API processes drop the answers they cached from it."""
_UPSERT_TRACKING = (
    "INSERT INTO notification_tracking AS t (application_name, notification_id) "
    "VALUES ($1, $2) ON CONFLICT (application_name) DO UPDATE "
    "SET notification_id = EXCLUDED.notification_id "
    "WHERE t.notification_id < EXCLUDED.notification_id RETURNING notification_id"
)
_UPSERT_TRACKING_AND_NOTIFY = (
    f"WITH t AS ({_UPSERT_TRACKING}) "
    f"SELECT notification_id, pg_notify('{READ_MODELS_CHANNEL}', $1) FROM t"
)
_NEXT_NUMBER = (
    "INSERT INTO key_sequences AS k (name, value) VALUES ($1, 1) "
    "ON CONFLICT (name) DO UPDATE SET value = k.value + 1 RETURNING value"
)


class TrackingConflict(RuntimeError):
    """Raised when a projection records a position at or before the one it already has."""


class AsyncpgRecorder:
    """Stored-event level access to the event store over an asyncpg pool."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        append_retries: int = 5,
        poll_interval: float = 1.0,
    ) -> None:
        self.pool = pool
        self.append_retries = append_retries
        self.poll_interval = poll_interval

    async def append(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        conn: Connection | None = None,
    ) -> list[int]:
        """Insert the events atomically; return their notification ids in order.

        With `conn` the insert joins the caller's transaction (the caller retries);
        without it, it is one statement, retried with backoff when the table lock
        is not granted within `lock_timeout`.
        """
        if not stored_events:
            return []
        args = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        if conn is not None:
            return await self._append(conn, args)
        attempt = 0
        while True:
            try:
                async with self.pool.acquire() as acquired:
                    return await self._append(acquired, args)
            except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
                attempt += 1
                if attempt >= self.append_retries:
                    raise
                delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())  # noqa: S311
                logger.warning("append waited too long for the events table lock; retrying")
                await asyncio.sleep(delay)

    async def _append(self, conn: Connection, args: tuple[list[Any], ...]) -> list[int]:
        try:
            rows = await conn.fetch(_APPEND, *args)
        except asyncpg.UniqueViolationError:
            APPEND_CONFLICTS.inc()
            raise await self._conflict(conn, args[0], args[1]) from None
        return [row[0] for row in rows]

    async def _conflict(
        self, conn: Connection, ids: list[UUID], versions: list[int]
    ) -> ConcurrencyConflict:
        current: int | None = None
        if not conn.is_in_transaction():
            found = await conn.fetch(
                "SELECT originator_id, max(originator_version) AS v FROM stored_events "
                "WHERE originator_id = ANY($1::uuid[]) GROUP BY originator_id",
                list(set(ids)),
            )
            latest = {row["originator_id"]: row["v"] for row in found}
            for originator_id, version in zip(ids, versions, strict=True):
                if latest.get(originator_id, 0) >= version:
                    current = latest[originator_id]
                    return ConcurrencyConflict(
                        f"{originator_id} is at version {current}, cannot append version {version}",
                        current_version=current,
                    )
        return ConcurrencyConflict("an aggregate was changed concurrently", current_version=current)

    async def select_events(
        self, originator_id: UUID, *, lte_version: int | None = None
    ) -> list[StoredEvent]:
        async with self.pool.acquire() as conn:
            return await select_events(conn, originator_id, lte_version=lte_version)

    async def select_notifications(
        self,
        after: int,
        limit: int,
        *,
        stop: int | None = None,
        topics: Sequence[str] = (),
        conn: Connection | None = None,
    ) -> list[Notification]:
        """Events with notification id > `after` (and <= `stop`), in order."""
        if conn is None:
            async with self.pool.acquire() as acquired:
                rows = await acquired.fetch(_SELECT_NOTIFICATIONS, after, stop, list(topics), limit)
        else:
            rows = await conn.fetch(_SELECT_NOTIFICATIONS, after, stop, list(topics), limit)
        return [
            Notification(
                id=row["notification_id"],
                originator_id=row["originator_id"],
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in rows
        ]

    async def select_rows(
        self, conn: Connection, after: int, limit: int, *, stop: int, topics: Sequence[str]
    ) -> list[asyncpg.Record]:
        """What `select_notifications` selects, as the rows themselves (notification_id,
        originator_id, originator_version, topic, state): projections decode them directly."""
        rows: list[asyncpg.Record] = await conn.fetch(
            _SELECT_NOTIFICATIONS, after, stop, list(topics), limit
        )
        return rows

    async def max_notification_id(self) -> int:
        """The head position (0 when the store is empty)."""
        async with self.pool.acquire() as conn:
            value = await conn.fetchval("SELECT max(notification_id) FROM stored_events")
        return int(value or 0)

    async def next_number(self, sequence: str) -> int:
        async with self.pool.acquire() as conn:
            return int(await conn.fetchval(_NEXT_NUMBER, sequence))

    @staticmethod
    async def record_position(
        conn: Connection, name: str, position: int, *, notify: bool = False
    ) -> None:
        """Record a projection's position inside the caller's (read-model) transaction;
        `notify`: announce on READ_MODELS_CHANNEL that the read model moved on."""
        if not conn.is_in_transaction():
            raise RuntimeError("record_position must run inside the read model's transaction")
        sql = _UPSERT_TRACKING_AND_NOTIFY if notify else _UPSERT_TRACKING
        recorded = await conn.fetchval(sql, name, position)
        if recorded is None:
            raise TrackingConflict(f"{name} already recorded a position at or after {position}")

    async def position(self, name: str, *, conn: Connection | None = None) -> int:
        """A projection's tracking position (0 when it has none)."""
        sql = "SELECT notification_id FROM notification_tracking WHERE application_name = $1"
        if conn is None:
            async with self.pool.acquire() as acquired:
                value = await acquired.fetchval(sql, name)
        else:
            value = await conn.fetchval(sql, name)
        return int(value or 0)

    async def follow(
        self,
        after: int = 0,
        *,
        topics: Sequence[str] = (),
        batch_size: int = 500,
    ) -> AsyncIterator[Notification]:
        """Yield every notification after `after`, in order, forever.

        Woken by NOTIFY on a dedicated connection; polls every `poll_interval`
        seconds as a fallback (a lost notification only delays, never skips).
        """
        woken = asyncio.Event()

        def on_notify(*_: object) -> None:
            woken.set()

        listener: PoolConnectionProxy | None = None
        try:
            try:
                listener = await self.pool.acquire()
                await listener.add_listener(CHANNEL, on_notify)
            except DATABASE_ERRORS:
                logger.warning("LISTEN failed; following by polling only")
                if listener is not None:
                    await self.pool.release(listener)
                listener = None
            position = after
            while True:
                if listener is not None and not _alive(listener):
                    # Wake-ups would stop silently; let the caller follow again from here.
                    raise asyncpg.ConnectionDoesNotExistError("the LISTEN connection was lost")
                woken.clear()
                batch = await self.select_notifications(position, batch_size, topics=topics)
                for notification in batch:
                    position = notification.id
                    yield notification
                if len(batch) < batch_size:
                    await wait_until_set(woken, self.poll_interval)
        finally:
            if listener is not None:
                try:
                    if _alive(listener):
                        await listener.remove_listener(CHANNEL, on_notify)
                except DATABASE_ERRORS:
                    pass  # the connection is gone; releasing it below replaces it
                finally:
                    await self.pool.release(listener)


async def select_events(
    conn: Connection, originator_id: UUID, *, lte_version: int | None = None
) -> list[StoredEvent]:
    """One aggregate's stored events in version order (up to `lte_version`), on `conn`
    (a projection re-reading an item inside its own transaction)."""
    rows = await conn.fetch(_SELECT_EVENTS, originator_id, lte_version)
    return [
        StoredEvent(
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=row["state"],
        )
        for row in rows
    ]


def _alive(conn: PoolConnectionProxy) -> bool:
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False  # already released back to the pool when its connection closed
