"""The raw event log for audits and migration: copying stored events in, positions and all.

`loopline export events` reads through the recorder; `loopline import events` writes here,
into an empty store only, keeping every event's notification id (its position) so read
models built from the copy equal the original's, and moving the id sequence and the
human-key counters (FB-n, DEC-n) past what the copy holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eventsourcing.persistence import Notification

from infra.database import Connection
from infra.recorder import CHANNEL


class StoreNotEmpty(RuntimeError):
    """Raised when events are imported into a store that already holds events."""


async def lock_empty_store(conn: Connection) -> None:
    """Lock the events table (as appends do) and raise `StoreNotEmpty` unless it is empty.

    Runs in the caller's transaction; the lock holds until it ends.
    """
    await conn.execute("LOCK TABLE stored_events IN EXCLUSIVE MODE")
    count = await conn.fetchval("SELECT count(*) FROM (SELECT 1 FROM stored_events LIMIT 1) s")
    if count:
        held = await conn.fetchval("SELECT max(notification_id) FROM stored_events")
        raise StoreNotEmpty(
            f"the event store is not empty (it is at position {held}); "
            "events import only into an empty store"
        )


async def insert_exact(conn: Connection, events: Sequence[Notification]) -> None:
    """Insert events with their own notification ids (in the caller's locked transaction)."""
    await conn.execute(
        "INSERT INTO stored_events "
        "(notification_id, originator_id, originator_version, topic, state) "
        "SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::text[], $5::bytea[])",
        [e.id for e in events],
        [e.originator_id for e in events],
        [e.originator_version for e in events],
        [e.topic for e in events],
        [e.state for e in events],
    )


async def finish_import(conn: Connection, counters: Mapping[str, int]) -> None:
    """Move the id sequence past the imported events, set the key counters, wake followers."""
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('stored_events', 'notification_id'), "
        "coalesce((SELECT max(notification_id) FROM stored_events), 0) + 1, false)"
    )
    for name, value in counters.items():
        await conn.execute(
            "INSERT INTO key_sequences AS k (name, value) VALUES ($1, $2) "
            "ON CONFLICT (name) DO UPDATE SET value = greatest(k.value, EXCLUDED.value)",
            name,
            value,
        )
    await conn.execute(f"NOTIFY {CHANNEL}")
