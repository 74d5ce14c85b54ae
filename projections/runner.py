"""Runs projections: catch up in batches, follow live, rebuild and switch.

Exactly once: each batch's read-model writes and the new tracking position
commit in one transaction, so a crash anywhere neither loses nor repeats an
event. One worker per projection: a session advisory lock on the worker's own
connection is the lease; when the connection dies, the lease goes with it.

Projections that catch up together share one read of the events: a feed reads
the union of their topics once, decodes each event once, and hands each
projection its own batches, which it applies on its own connection while the
feed reads ahead (see `_Lane`, `_feed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.utils import get_topic

from infra.counters import PROJECTION_BATCHES, PROJECTION_EVENTS
from infra.database import DATABASE_ERRORS, TRANSIENT_ERRORS, Connection
from infra.recorder import CHANNEL, READ_MODELS_CHANNEL, AsyncpgRecorder
from infra.transcoder import EventMapper
from infra.waiting import wait_until_set
from projections.base import Positioned, Projection

logger = logging.getLogger(__name__)

LEASE_NAMESPACE = 0x100B_11E1
_HEAD = "SELECT coalesce(max(notification_id), 0) FROM stored_events"
_INDEXED = "indexed"
"""The comment on a build's schema once `index_sql` ran in it."""
_PREPARED = "prepared"
"""The comment on a build's schema once what `index_sql` runs before its indexes ran."""
# Index builds (a GIN above all) sort in memory rather than in passes.
_INDEX_MEMORY = "SET LOCAL maintenance_work_mem TO '256MB'"
_UNNAMED_INDEX = re.compile(r"CREATE\s+(UNIQUE\s+)?INDEX\s+ON\s+(\w+)", re.IGNORECASE)


@dataclass(frozen=True)
class IndexPlan:
    """A projection's `index_sql` in the order the runner runs it: the statements before
    its first index (idempotent, or run once: see `_finish_build`), the unnamed indexes
    that follow them (`CREATE [UNIQUE] INDEX ON t ...`), named here after their own text
    and created only if absent (so the same index is never built twice), and the rest."""

    before: tuple[str, ...]
    indexes: tuple[str, ...]
    after: tuple[str, ...]

    @classmethod
    def of(cls, sql: str) -> IndexPlan:
        """`sql` split into statements at each `;` (`--` comments dropped: neither may
        appear inside a literal)."""
        statements = [
            " ".join(s.split()) for s in re.sub(r"--[^\n]*", "", sql).split(";") if s.strip()
        ]
        first = next(
            (i for i, s in enumerate(statements) if _UNNAMED_INDEX.match(s)), len(statements)
        )
        last = first
        while last < len(statements) and _UNNAMED_INDEX.match(statements[last]):
            last += 1
        indexes = [_named(s) for s in statements[first:last]]
        # The longest builds (a GIN's) start first.
        indexes.sort(key=lambda s: " using gin " not in s.lower())
        return cls(tuple(statements[:first]), tuple(indexes), tuple(statements[last:]))


def _named(statement: str) -> str:
    match = _UNNAMED_INDEX.match(statement)
    assert match is not None
    digest = hashlib.blake2b(statement.encode(), digest_size=5).hexdigest()
    name = f"{match[2][:40]}_{digest}"
    unique = "UNIQUE " if match[1] else ""
    return f'CREATE {unique}INDEX IF NOT EXISTS "{name}" ON {statement[match.start(2) :]}'


_FORGET_POSITION = "DELETE FROM notification_tracking WHERE application_name = $1"

VISIBILITY_WAIT = 900.0
"""Seconds a finished build waits for the transactions that kept its vacuum from marking
its pages all-visible (see `ProjectionRunner._make_visible`)."""
VISIBILITY_POLL = 0.5
# The tables ($2) of a build ($1) whose visibility map covers less than nine pages in ten.
_UNMARKED = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind = 'r'
  AND c.relallvisible < 0.9 * c.relpages
"""
# Whether a transaction that began before $1 and holds a snapshot or a transaction id is
# still running: a client's (autovacuum's are not waited for), other than this one and other
# vacuums (whose snapshots do not hold a vacuum back).
_OLDER_TRANSACTIONS = """
SELECT EXISTS (
    SELECT FROM pg_stat_activity
    WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND xact_start < $1
      AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)
      AND query !~* '^\\s*vacuum\\s'
)
"""


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


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Catching up allocates millions of short-lived objects (decoded events, rows) while
    the process holds many long-lived ones: the cyclic garbage collector, run every 700
    allocations and walking everything alive, took a quarter of a rebuild's CPU. The
    objects alive before it are set aside (`gc.freeze`) and collections made rarer, for its
    length only."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@dataclass(eq=False)
class _Lane:
    """One projection catching up: its leased connection, the schema it writes to, how far
    it has applied, and (when a feed reads ahead for it) the batches waiting for it."""

    projection: Projection
    conn: Connection
    schema: str
    position: int
    topics: frozenset[str]
    building: bool
    staging: bool
    """Batches go to `Projection.stage`: a build whose `index_sql` has not started."""
    delivered: int
    """The position of the last batch handed to it (it may still be applying it)."""
    read: int = 0
    """How far the feed has read for it."""
    waiting: list[Positioned] = field(default_factory=list)
    """Its events read but not yet handed to it."""
    queue: asyncio.Queue[tuple[list[Positioned], int] | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=2)
    )

    done: int = 0

    @property
    def reached(self) -> int:
        """How far it is done: its position, or what the feed had read past it when
        nothing it was handed or will be handed before that was still to apply."""
        idle = not self.waiting and self.delivered <= self.position
        self.done = max(self.done, self.position, self.read if idle else 0)
        return self.done


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
        index_workers: int = 2,
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
        self.index_workers = max(1, index_workers)
        """Connections a caught-up build's indexes are created on at once."""
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

        Each projection on its own connection and lease; those behind share one read of
        the events (one feed, read ahead on a connection of its own while they apply).
        `progress` gets the position all of them reached.
        """
        selected = [self.projections[n] for n in names or list(self.projections)]
        async with contextlib.AsyncExitStack() as stack:
            stack.enter_context(_fewer_collections())
            conns = []
            for _ in selected:
                conn = await self._connect()
                stack.push_async_callback(conn.close)
                conns.append(conn)
            try:
                async with asyncio.TaskGroup() as group:
                    for conn, p in zip(conns, selected, strict=True):
                        group.create_task(self._wait_for_lease(conn, p.name, wait_for_lease))
            except BaseExceptionGroup as failed:
                raise failed.exceptions[0]  # noqa: B904
            lanes = [await self._lane(conn, p) for conn, p in zip(conns, selected, strict=True)]
            head = await self._head(conns[0])
            behind = [lane for lane in lanes if lane.position < head]
            if behind:
                reader = await self._connect()
                stack.push_async_callback(reader.close)
                await self._apply_until_head(reader, behind, head, progress)
            await asyncio.gather(*(self._switch_if_built(lane) for lane in lanes))

    async def _wait_for_lease(self, conn: Connection, name: str, within: float) -> None:
        deadline = time.monotonic() + within
        while not await self._try_lease(conn, name):
            if time.monotonic() > deadline:
                raise TimeoutError(f"another worker holds projection {name}")
            await asyncio.sleep(0.1)

    @staticmethod
    async def _head(conn: Connection) -> int:
        return int(await conn.fetchval(_HEAD))

    # -- one step: build or follow, then switch when a build caught up --------

    async def _step(
        self, conn: Connection, projection: Projection, *, progress: Progress | None = None
    ) -> None:
        lane = await self._lane(conn, projection)
        head = await self._head(conn)
        if lane.position < head:
            await self._apply_until_head(conn, [lane], head, progress)
        await self._switch_if_built(lane)

    async def _lane(self, conn: Connection, projection: Projection) -> _Lane:
        schema = await self._target_schema(conn, projection)
        position = await self.recorder.position(schema, conn=conn)
        building = await self._building(conn, projection, schema)
        staging = building and await self._build_state(conn, schema) is None
        return _Lane(
            projection,
            conn,
            schema,
            position,
            frozenset(projection.topics),
            building,
            staging,
            position,
        )

    @staticmethod
    async def _build_state(conn: Connection, schema: str) -> str | None:
        """How far a build's `index_sql` ran: None, `_PREPARED` or `_INDEXED`."""
        state = await conn.fetchval(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1",
            schema,
        )
        return None if state is None else str(state)

    @staticmethod
    async def _building(conn: Connection, projection: Projection, schema: str) -> bool:
        found = await conn.fetchval(
            "SELECT building_schema FROM projection_registry WHERE name = $1", projection.name
        )
        return bool(found == schema)

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
        reader: Connection,
        lanes: list[_Lane],
        head: int,
        progress: Progress | None,
    ) -> None:
        """Apply every lane's events up to `head`. With `reader` a connection no lane
        uses, the feed reads ahead while the lanes apply (each on its own connection);
        otherwise it waits for each batch to be applied before reading the next."""
        ahead = all(lane.conn is not reader for lane in lanes)

        def reached() -> None:
            if progress is not None:
                progress(min(lane.reached for lane in lanes), head)

        if not ahead:

            async def apply_now(lane: _Lane, events: list[Positioned], upto: int) -> None:
                await self._apply_batch(lane, events, upto)
                reached()

            await self._feed(reader, lanes, head, apply_now, reached)
            return

        async def drain(lane: _Lane) -> None:
            while (item := await lane.queue.get()) is not None:
                await self._apply_batch(lane, *item)
                reached()

        async def hand_over(lane: _Lane, events: list[Positioned], upto: int) -> None:
            await lane.queue.put((events, upto))

        async def feed() -> None:
            await self._feed(reader, lanes, head, hand_over, reached)
            for lane in lanes:
                await lane.queue.put(None)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(feed())
                for lane in lanes:
                    group.create_task(drain(lane))
        except BaseExceptionGroup as failed:
            # Callers expect the error itself (a failed projection, a lost connection).
            raise failed.exceptions[0]  # noqa: B904

    async def _feed(
        self,
        reader: Connection,
        lanes: list[_Lane],
        head: int,
        deliver: Callable[[_Lane, list[Positioned], int], Awaitable[None]],
        read: Callable[[], None],
    ) -> None:
        """Read the events the lanes need from the lowest lane's position up to `head`,
        once, decoding each once, and deliver each lane its batches: at most `batch_size`
        events and the position they bring it to (its last event's, or the position read
        up to when it has nothing more before it); `read` is called after each read."""
        readers: dict[str, list[_Lane]] = {}
        # A projection naming no topics reads every event (as the recorder reads them).
        everything = tuple(lane for lane in lanes if not lane.topics)
        for lane in lanes:
            for topic in lane.topics:
                readers.setdefault(topic, []).append(lane)
        topics = [] if everything else sorted(readers)
        # Each topic's lanes, looked up once per event (a topic no lane named: `everything`).
        routes = {topic: (*named, *everything) for topic, named in readers.items()}
        position = min(lane.position for lane in lanes)
        # Past the furthest lane's own position, every lane of a topic takes its events.
        furthest = max(lane.position for lane in lanes)
        decode = self._decoder()
        size = self.batch_size
        while position < head and not self._stopping.is_set():
            rows = await self.recorder.select_rows(reader, position, size, stop=head, topics=topics)
            before = {id(lane): (lane.delivered, len(lane.waiting)) for lane in lanes}
            for row in rows:
                notification_id = row[0]
                takers = routes.get(row[3], everything)
                if notification_id <= furthest:
                    takers = tuple(lane for lane in takers if notification_id > lane.position)
                if not takers:
                    continue
                positioned = (notification_id, decode(row))
                for lane in takers:
                    batch = lane.waiting
                    batch.append(positioned)
                    if len(batch) >= size:
                        lane.waiting = []
                        lane.delivered = notification_id
                        await deliver(lane, batch, notification_id)
            fed = {
                id(lane)
                for lane in lanes
                if (lane.delivered, len(lane.waiting)) != before[id(lane)]
            }
            # Up to `head` every id is settled (inserts are serialised), so a short
            # read means nothing relevant remains before head: jump there.
            position = rows[-1][0] if len(rows) == self.batch_size else head
            for lane in lanes:
                lane.read = position
                if position < head and lane.waiting and id(lane) not in fed:
                    # Its events have stopped for now: hand them over rather than hold
                    # them (and its progress) back until they fill a batch.
                    batch, lane.waiting = lane.waiting, []
                    lane.delivered = position
                    await deliver(lane, batch, position)
            read()
            if position < head:
                continue
            for lane in lanes:
                batch = lane.waiting
                if batch or lane.delivered < head:
                    lane.waiting = []
                    lane.delivered = head
                    await deliver(lane, batch, head)

    def _decoder(self) -> Callable[[Any], Any]:
        """Row to domain event: typed straight from the row's columns when the mapper can
        (`EventMapper.decode`), else through a Notification."""
        mapper = self.mapper
        if isinstance(mapper, EventMapper):
            decode = mapper.row_decoder()
            return lambda row: decode(row[3], row[1], row[2], row[4])

        def through_notification(row: Any) -> Any:
            return mapper.to_domain_event(
                Notification(
                    id=row[0],
                    originator_id=row[1],
                    originator_version=row[2],
                    topic=row[3],
                    state=row[4],
                )
            )

        return through_notification

    async def _apply_batch(self, lane: _Lane, events: list[Positioned], reached: int) -> None:
        projection, conn = lane.projection, lane.conn
        outermost = not conn.is_in_transaction()
        try:
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{lane.schema}", public')
                if lane.building and outermost:
                    # A build is invisible until it switches, and a commit lost in a crash
                    # loses its position with it (same transaction): it is applied again.
                    await conn.execute("SET LOCAL synchronous_commit TO off")
                if events and lane.staging:
                    await projection.stage(conn, events)
                elif events:
                    await projection.apply(conn, events)
                await self.recorder.record_position(conn, lane.schema, reached, notify=True)
            lane.position = reached
            PROJECTION_BATCHES.labels(projection.name).inc()
            PROJECTION_EVENTS.labels(projection.name).inc(len(events))
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            if conn.is_closed():
                raise  # the connection broke, not the event
            if len(events) <= 1:
                position = events[0][0] if events else reached
                topic = get_topic(type(events[0][1])) if events else "?"
                await self._record_failure(conn, projection, position, error)
                raise ProjectionFailed(projection.name, position, topic, error) from error
            logger.warning("batch failed (%r); applying one event at a time", error)
            # Find the event that fails: apply one at a time up to it.
            for i, positioned in enumerate(events):
                last = i == len(events) - 1
                await self._apply_batch(lane, [positioned], reached if last else positioned[0])

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

    async def _switch_if_built(self, lane: _Lane) -> None:
        conn, projection, schema = lane.conn, lane.projection, lane.schema
        row = await conn.fetchrow(
            "SELECT active_schema, building_schema FROM projection_registry WHERE name = $1",
            projection.name,
        )
        assert row is not None
        if row["building_schema"] != schema:
            return
        old = row["active_schema"]
        await self._finish_build(lane)
        async with conn.transaction():
            # Apply what arrived meanwhile, then repoint the views atomically.
            head = await self._head(conn)
            if lane.position < head:
                await self._apply_until_head(conn, [lane], head, None)
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
        lane.building = False
        logger.info("projection %s: switched to %s", projection.name, schema)
        if old and old != schema:
            with contextlib.suppress(asyncpg.PostgresError):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{old}" CASCADE')
                await conn.execute(
                    "DELETE FROM notification_tracking WHERE application_name = $1", old
                )

    async def _finish_build(self, lane: _Lane) -> None:
        """Index a build that caught up, once (the build is still invisible, and the switch
        stays short), then vacuum it: statistics for the planner, and a visibility map so
        covering indexes answer without the table.

        `index_sql` runs in three steps (see `IndexPlan`): what comes before its first
        index, in one transaction; its indexes, each in a transaction of its own, several
        at once on connections of their own (an index build uses one core); the rest, in
        one transaction that also marks the build indexed. A worker that restarts before
        the switch carries on where the last one stopped rather than doing it twice."""
        conn, projection, schema = lane.conn, lane.projection, lane.schema
        state = await self._build_state(conn, schema)
        plan = IndexPlan.of(projection.index_sql())
        if state != _INDEXED:
            if state != _PREPARED:
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                    await conn.execute(_INDEX_MEMORY)
                    for statement in plan.before:
                        await conn.execute(statement)
                    await conn.execute(f"COMMENT ON SCHEMA \"{schema}\" IS '{_PREPARED}'")
            lane.staging = False  # what was staged is taken in: apply from here on
            await self._in_parallel(lane, plan.indexes)
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                await conn.execute(_INDEX_MEMORY)
                for statement in plan.after:
                    await conn.execute(statement)
                await conn.execute(f"COMMENT ON SCHEMA \"{schema}\" IS '{_INDEXED}'")
        began = await conn.fetchval("SELECT clock_timestamp()")
        await self._in_parallel(
            lane,
            [f'VACUUM (ANALYZE) "{schema}"."{table}"' for table in projection.tables],
            transaction=False,
        )
        await self._make_visible(lane, began)

    async def _make_visible(self, lane: _Lane, vacuumed: datetime) -> None:
        """Vacuum again, once the transactions that stopped it are over, the tables whose
        visibility map the first vacuum (begun at `vacuumed`) left mostly unset.

        VACUUM marks a page all-visible only if no running transaction could still see an
        earlier state of its rows, and a build's finish runs beside other work: above all the
        other projections' finishes, whose index builds hold their snapshots for minutes on
        a large history (measured at 10,000,000 events: `feedback_items`, rewritten for its
        search vector while `delivery` built its indexes, was left with none of its 64,640
        pages marked, so its covering indexes read the table, and a cold lead time took
        0.9 s). The wait is bounded (`VISIBILITY_WAIT`); past it the build switches
        unmarked, as correct and slower until autovacuum marks it."""
        conn, schema = lane.conn, lane.schema
        unmarked = [
            r["relname"] for r in await conn.fetch(_UNMARKED, schema, list(lane.projection.tables))
        ]
        if not unmarked:
            return
        deadline = time.monotonic() + VISIBILITY_WAIT
        while await conn.fetchval(_OLDER_TRANSACTIONS, vacuumed):
            if time.monotonic() > deadline:
                logger.warning(
                    "projection %s: %s left unmarked for index-only scans (transactions "
                    "older than its vacuum still running after %.0f s)",
                    lane.projection.name,
                    ", ".join(unmarked),
                    VISIBILITY_WAIT,
                )
                return
            await asyncio.sleep(VISIBILITY_POLL)
        await self._in_parallel(
            lane,
            [f'VACUUM "{schema}"."{table}"' for table in unmarked],
            transaction=False,
        )

    async def _in_parallel(
        self, lane: _Lane, statements: Sequence[str], *, transaction: bool = True
    ) -> None:
        """Run `statements` in the lane's schema, each alone (in a transaction of its own
        unless not `transaction`, its errors ignored then), on up to `index_workers`
        connections: the lane's own and new ones."""
        if not statements:
            return
        pending = list(statements)
        schema = lane.schema

        async def work(conn: Connection) -> None:
            while pending:
                statement = pending.pop(0)
                if not transaction:
                    with contextlib.suppress(asyncpg.PostgresError):
                        await conn.execute(statement)
                    continue
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                    await conn.execute(_INDEX_MEMORY)
                    await conn.execute("SET LOCAL synchronous_commit TO off")
                    await conn.execute(statement)

        async with contextlib.AsyncExitStack() as stack:
            conns: list[Connection] = [lane.conn]
            for _ in range(min(self.index_workers, len(statements)) - 1):
                extra = await self._connect()
                stack.push_async_callback(extra.close)
                conns.append(extra)
            try:
                async with asyncio.TaskGroup() as group:
                    for conn in conns:
                        group.create_task(work(conn))
            except BaseExceptionGroup as failed:
                raise failed.exceptions[0]  # noqa: B904

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
