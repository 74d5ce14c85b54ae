"""Runs projections: catch up in batches, follow live, rebuild and switch.

Exactly once: each batch's read-model writes and the new tracking position
commit in one transaction, so a crash anywhere neither loses nor repeats an
event. One worker per projection: a session advisory lock on the worker's own
connection is the lease; when the connection dies, the lease goes with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from eventsourcing.persistence import Mapper, Notification

from infra.counters import PROJECTION_BATCHES, PROJECTION_EVENTS
from infra.database import DATABASE_ERRORS, TRANSIENT_ERRORS, Connection
from infra.recorder import CHANNEL, READ_MODELS_CHANNEL, AsyncpgRecorder
from infra.waiting import wait_until_set
from projections.base import Positioned, Projection

logger = logging.getLogger(__name__)

LEASE_NAMESPACE = 0x100B_11E1
_HEAD = "SELECT coalesce(max(notification_id), 0) FROM stored_events"
_FORGET_POSITION = "DELETE FROM notification_tracking WHERE application_name = $1"


class ProjectionFailed(RuntimeError):
    """Raised when a projection cannot apply an event; it stops before that event."""

    def __init__(self, name: str, position: int, topic: str, error: BaseException) -> None:
        super().__init__(f"projection {name} failed at position {position} ({topic}): {error!r}")
        self.name = name
        self.position = position


@dataclass(frozen=True)
class Status:
    name: str
    version: int
    active_schema: str | None
    building_schema: str | None
    position: int
    head: int
    failed_position: int | None
    failed_error: str | None

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


def lease_key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


Progress = Callable[[int, int], None]
"""Called with (position reached, head) after each batch."""


class ProjectionRunner:
    """Keeps a set of projections up to date from the event store."""

    def __init__(
        self,
        dsn: str,
        recorder: AsyncpgRecorder,
        mapper: Mapper[Any],
        projections: Sequence[Projection],
        *,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        lease_retry: float = 2.0,
        server_settings: dict[str, str] | None = None,
    ) -> None:
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be unique: {names}")
        tables = [t for p in projections for t in p.tables]
        if len(set(tables)) != len(tables):
            raise ValueError(f"read-model table names must be unique: {tables}")
        self.dsn = dsn
        self.recorder = recorder
        self.mapper = mapper
        self.projections = {p.name: p for p in projections}
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.lease_retry = lease_retry
        self.server_settings = server_settings or {}
        self._stopping = asyncio.Event()

    # -- running -----------------------------------------------------------

    async def run(self, names: Sequence[str] | None = None) -> None:
        """Run the projections (all, or `names`) until `stop()`; other workers share them."""
        selected = [self.projections[n] for n in (names or self.projections)]
        async with asyncio.TaskGroup() as group:
            for projection in selected:
                group.create_task(self._keep_running(projection))

    def stop(self) -> None:
        self._stopping.set()

    async def _keep_running(self, projection: Projection) -> None:
        while not self._stopping.is_set():
            try:
                await self._lease_and_follow(projection)
            except ProjectionFailed as failure:
                logger.error("%s; it will not advance past that event", failure)
                return
            except DATABASE_ERRORS as error:
                logger.warning(
                    "projection %s lost the database (%r); retrying", projection.name, error
                )
            except Exception:
                # One projection's surprise must not stop the others (they share a TaskGroup).
                logger.exception("projection %s stopped unexpectedly; retrying", projection.name)
            await self._sleep(self.lease_retry)

    async def _sleep(self, seconds: float) -> None:
        await wait_until_set(self._stopping, seconds)

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn, server_settings=self.server_settings)

    async def _lease_and_follow(self, projection: Projection) -> None:
        conn = await self._connect()
        woken = asyncio.Event()
        try:
            if not await self._try_lease(conn, projection.name):
                return
            await conn.add_listener(CHANNEL, lambda *_: woken.set())
            while not self._stopping.is_set():
                woken.clear()
                await self._step(conn, projection)
                with contextlib.suppress(TimeoutError):
                    waiter = asyncio.ensure_future(woken.wait())
                    stopper = asyncio.ensure_future(self._stopping.wait())
                    try:
                        await asyncio.wait(
                            {waiter, stopper},
                            timeout=self.poll_interval,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    finally:
                        waiter.cancel()
                        stopper.cancel()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    @staticmethod
    async def _try_lease(conn: Connection, name: str) -> bool:
        return bool(
            await conn.fetchval(
                "SELECT pg_try_advisory_lock($1, $2)", LEASE_NAMESPACE, lease_key(name)
            )
        )

    async def catch_up(
        self,
        names: Sequence[str] | None = None,
        *,
        progress: Progress | None = None,
        wait_for_lease: float = 30.0,
    ) -> None:
        """Bring projections up to the current head once (tests, CLI, rebuild), then return.

        The projections catch up side by side: each on its own connection and lease.
        """
        try:
            async with asyncio.TaskGroup() as group:
                for name in names or list(self.projections):
                    group.create_task(self._catch_up_one(name, progress, wait_for_lease))
        except BaseExceptionGroup as failed:
            # Callers expect the error itself (a lease time-out, a failed projection).
            raise failed.exceptions[0]  # noqa: B904

    async def _catch_up_one(
        self, name: str, progress: Progress | None, wait_for_lease: float
    ) -> None:
        projection = self.projections[name]
        conn = await self._connect()
        try:
            deadline = time.monotonic() + wait_for_lease
            while not await self._try_lease(conn, name):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another worker holds projection {name}")
                await asyncio.sleep(0.1)
            await self._step(conn, projection, progress=progress)
        finally:
            await conn.close()

    # -- one step: build or follow, then switch when a build caught up --------

    async def _step(
        self, conn: Connection, projection: Projection, *, progress: Progress | None = None
    ) -> None:
        schema = await self._target_schema(conn, projection)
        await self._apply_until_head(conn, projection, schema, progress)
        await self._switch_if_built(conn, projection, schema)

    async def _target_schema(self, conn: Connection, projection: Projection) -> str:
        """The schema this projection writes to now, creating a new build when needed."""
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO projection_registry (name) VALUES ($1) ON CONFLICT DO NOTHING",
                projection.name,
            )
            row = await conn.fetchrow(
                "SELECT * FROM projection_registry WHERE name = $1 FOR UPDATE", projection.name
            )
            assert row is not None
            if row["failed_position"] is not None:
                await conn.execute(
                    "UPDATE projection_registry SET failed_position = NULL, failed_error = NULL "
                    "WHERE name = $1",
                    projection.name,
                )
            steady = (
                row["active_version"] == projection.version
                and not row["rebuild_requested"]
                and row["building_schema"] is None
            )
            if steady:
                return str(row["active_schema"])
            if row["building_schema"] is not None and row["building_version"] == projection.version:
                return str(row["building_schema"])
            if row["building_schema"] is not None:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{row["building_schema"]}" CASCADE')
            generation = row["generation"] + 1
            schema = f"p_{projection.name}_v{projection.version}_g{generation}"
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
            await conn.execute(projection.schema_sql())
            await conn.execute(
                "UPDATE projection_registry SET building_schema = $2, building_version = $3, "
                "generation = $4, rebuild_requested = false, updated_at = now() WHERE name = $1",
                projection.name,
                schema,
                projection.version,
                generation,
            )
            await conn.execute(
                "DELETE FROM notification_tracking WHERE application_name = $1", schema
            )
            logger.info("projection %s: building %s from the start", projection.name, schema)
            return schema

    async def _apply_until_head(
        self,
        conn: Connection,
        projection: Projection,
        schema: str,
        progress: Progress | None,
    ) -> None:
        position = await self.recorder.position(schema, conn=conn)
        head = int(
            await conn.fetchval("SELECT coalesce(max(notification_id), 0) FROM stored_events")
        )
        topics = projection.topics
        while position < head and not self._stopping.is_set():
            batch = await self.recorder.select_notifications(
                position, self.batch_size, stop=head, topics=topics, conn=conn
            )
            # Up to `head` every id is settled (inserts are serialised), so a short
            # batch means nothing relevant remains before head: jump there.
            reached = batch[-1].id if len(batch) == self.batch_size else head
            await self._apply_batch(conn, projection, schema, batch, reached)
            position = reached
            if progress is not None:
                progress(position, head)

    async def _apply_batch(
        self,
        conn: Connection,
        projection: Projection,
        schema: str,
        batch: list[Notification],
        reached: int,
    ) -> None:
        try:
            events = self._decode(projection, batch)
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                await projection.apply(conn, events)
                await self.recorder.record_position(conn, schema, reached, notify=True)
            PROJECTION_BATCHES.labels(projection.name).inc()
            PROJECTION_EVENTS.labels(projection.name).inc(len(events))
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            if conn.is_closed():
                raise  # the connection broke, not the event
            if len(batch) <= 1:
                failed = batch[0] if batch else None
                position = failed.id if failed else reached
                topic = failed.topic if failed else "?"
                await self._record_failure(conn, projection, position, error)
                raise ProjectionFailed(projection.name, position, topic, error) from error
            logger.warning("batch failed (%r); applying one event at a time", error)
            # Find the event that fails: apply one at a time up to it.
            for i, notification in enumerate(batch):
                last = i == len(batch) - 1
                await self._apply_batch(
                    conn, projection, schema, [notification], reached if last else notification.id
                )

    def _decode(self, projection: Projection, batch: list[Notification]) -> list[Positioned]:
        return [(n.id, self.mapper.to_domain_event(n)) for n in batch]

    async def _record_failure(
        self, conn: Connection, projection: Projection, position: int, error: BaseException
    ) -> None:
        with contextlib.suppress(Exception):
            await conn.execute(
                "UPDATE projection_registry SET failed_position = $2, failed_error = $3, "
                "updated_at = now() WHERE name = $1",
                projection.name,
                position,
                repr(error)[:2000],
            )

    async def _switch_if_built(self, conn: Connection, projection: Projection, schema: str) -> None:
        row = await conn.fetchrow(
            "SELECT active_schema, building_schema FROM projection_registry WHERE name = $1",
            projection.name,
        )
        assert row is not None
        if row["building_schema"] != schema:
            return
        old = row["active_schema"]
        async with conn.transaction():
            # Apply what arrived while we built, index, then repoint the views atomically.
            await self._apply_until_head(conn, projection, schema, None)
            if indexes := projection.index_sql():
                await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                await conn.execute(indexes)
            for table in projection.tables:
                await conn.execute(f'DROP VIEW IF EXISTS read."{table}"')
                await conn.execute(
                    f'CREATE VIEW read."{table}" AS SELECT * FROM "{schema}"."{table}"'
                )
            await conn.execute(
                "UPDATE projection_registry SET active_schema = $2, active_version = $3, "
                "building_schema = NULL, building_version = NULL, updated_at = now() "
                "WHERE name = $1",
                projection.name,
                schema,
                projection.version,
            )
            await conn.execute("SELECT pg_notify($1, $2)", READ_MODELS_CHANNEL, schema)
        logger.info("projection %s: switched to %s", projection.name, schema)
        # A fresh build: statistics for the planner, and a visibility map so the covering
        # indexes answer queries without visiting the table.
        for table in projection.tables:
            with contextlib.suppress(asyncpg.PostgresError):
                await conn.execute(f'VACUUM (ANALYZE) "{schema}"."{table}"')
        if old and old != schema:
            with contextlib.suppress(asyncpg.PostgresError):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{old}" CASCADE')
                await conn.execute(
                    "DELETE FROM notification_tracking WHERE application_name = $1", old
                )

    # -- observing -----------------------------------------------------------

    async def statuses(self, conn: Connection) -> list[Status]:
        return await statuses(conn, list(self.projections.values()))


async def statuses(conn: Connection, projections: Sequence[Projection]) -> list[Status]:
    """Where each projection stands against the head of the store."""
    head = int(await conn.fetchval(_HEAD))
    rows = {
        r["name"]: r
        for r in await conn.fetch(
            "SELECT r.*, t.notification_id AS position FROM projection_registry r "
            "LEFT JOIN notification_tracking t "
            "ON t.application_name = coalesce(r.building_schema, r.active_schema)"
        )
    }
    result = []
    for projection in projections:
        row = rows.get(projection.name)
        result.append(
            Status(
                name=projection.name,
                version=projection.version,
                active_schema=row["active_schema"] if row else None,
                building_schema=row["building_schema"] if row else None,
                position=int(row["position"] or 0) if row else 0,
                head=head,
                failed_position=row["failed_position"] if row else None,
                failed_error=row["failed_error"] if row else None,
            )
        )
    return result


async def request_rebuild(conn: Connection, name: str) -> None:
    """Ask whichever worker holds `name` to rebuild it into new tables."""
    await conn.execute(
        "INSERT INTO projection_registry (name, rebuild_requested) VALUES ($1, true) "
        "ON CONFLICT (name) DO UPDATE SET rebuild_requested = true, updated_at = now()",
        name,
    )
    await conn.execute(f"NOTIFY {CHANNEL}")


async def wait_for_position(
    conn: Connection,
    position: int,
    projections: Sequence[Projection],
    *,
    within: float = 5.0,
    interval: float = 0.02,
) -> bool:
    """Read-your-writes: wait until every projection reached `position` (False on timeout)."""
    deadline = time.monotonic() + within
    names = [p.name for p in projections]
    while True:
        reached = await conn.fetchval(
            "SELECT coalesce(min(coalesce(t.notification_id, 0)), 0) "
            "FROM unnest($1::text[]) AS n(name) "
            "LEFT JOIN projection_registry r ON r.name = n.name "
            "LEFT JOIN notification_tracking t ON t.application_name = r.active_schema",
            names,
        )
        if int(reached) >= position:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)
