"""Live changes for terminal UIs: one follower of the event store per process, fanned
out to every server-sent-events subscriber."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from eventsourcing.persistence import Mapper, Notification
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, HeaderParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from domain.lifecycle import status_after
from domain.team import TeamNotFound
from infra.database import DATABASE_ERRORS
from infra.eventstore import create_mapper
from infra.recorder import AsyncpgRecorder

logger = logging.getLogger(__name__)

HEARTBEAT = 15.0
MAX_POSITION = 2**63 - 1
"""Positions are PostgreSQL bigints: a larger Last-Event-ID is a 400, not a query that fails
after the stream has begun."""
QUEUE_SIZE = 10_000


class Change(msgspec.Struct, kw_only=True):
    """One change as the stream sends it (the `data` of an SSE message, as JSON)."""

    position: int
    aggregate: str
    event: str
    id: UUID
    version: int
    key: str | None = None
    team_id: UUID | None = None
    # The status the event leads to: a feedback or a decision status (one field for both,
    # as msgspec cannot tell two string enums apart in a union).
    status: str | None = None


class Broadcaster:
    """Follows the store from its head and hands every new notification to subscribers.

    A subscriber that falls QUEUE_SIZE behind is dropped; its client reconnects with
    Last-Event-ID and catches up from the store.
    """

    def __init__(self, recorder: AsyncpgRecorder) -> None:
        self.recorder = recorder
        self.subscribers: set[asyncio.Queue[Notification | None]] = set()
        self.position = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self.position = await self.recorder.max_notification_id()
            self._task = asyncio.create_task(self._follow(), name="event-stream")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for queue in self.subscribers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    async def _follow(self) -> None:
        while True:
            try:
                async for notification in self.recorder.follow(self.position):
                    self.position = notification.id
                    for queue in list(self.subscribers):
                        try:
                            queue.put_nowait(notification)
                        except asyncio.QueueFull:
                            self.subscribers.discard(queue)
                            with contextlib.suppress(asyncio.QueueFull):
                                queue.put_nowait(None)
            except DATABASE_ERRORS as error:
                logger.warning("event stream lost the database (%r); retrying", error)
                await asyncio.sleep(1.0)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Notification | None]]:
        await self.start()
        queue: asyncio.Queue[Notification | None] = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(queue)
        try:
            yield queue
        finally:
            self.subscribers.discard(queue)


def describe(mapper: Mapper[Any], notification: Notification) -> Change:
    event: Any = mapper.to_domain_event(notification)
    aggregate, _, name = type(event).__qualname__.partition(".")
    return Change(
        position=notification.id,
        aggregate=aggregate,
        event=name,
        id=UUID(str(notification.originator_id)),
        version=notification.originator_version,
        key=getattr(event, "key", None),
        team_id=getattr(event, "team_id", None),
        status=status_after(event),
    )


class TeamOf:
    """Which team an aggregate belongs to, looked up in the read models (and remembered)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.known: dict[UUID, UUID | None] = {}

    async def __call__(self, change: Change) -> UUID | None:
        if change.team_id is not None:
            self.known[change.id] = change.team_id
            return change.team_id
        if change.id in self.known:
            return self.known[change.id]
        async with self.pool.acquire() as conn:
            team = await conn.fetchval(
                "SELECT team_id FROM read.feedback_items WHERE id = $1 "
                "UNION ALL SELECT team_id FROM read.decisions WHERE id = $1 LIMIT 1",
                change.id,
            )
        owner: UUID | None = team
        self.known[change.id] = owner
        return owner


class EventStreamController(Controller):
    path = "/api/events/stream"
    tags = ["live"]

    @get(
        operation_id="streamEvents",
        summary="Live changes (server-sent events)",
        description=(
            "Each message has the event's position as its id and a JSON `Change` as data. "
            "Reconnect with Last-Event-ID to resume without missing a change. `team` keeps "
            "changes of that team's items (and of items without a team yet). Comments are "
            "sent as heartbeats."
        ),
    )
    async def stream(
        self,
        request: Request,  # type: ignore[type-arg]
        pool: NamedDependency[asyncpg.Pool],
        team: FromQuery[str | None] = None,
        last_event_id: Annotated[
            int | None,
            HeaderParameter(name="Last-Event-ID", required=False, ge=0, le=MAX_POSITION),
        ] = None,
    ) -> ServerSentEvent:
        broadcaster: Broadcaster = request.app.state.broadcaster
        team_id = await _team_id(pool, team) if team else None
        return ServerSentEvent(
            _messages(broadcaster, pool, team_id, last_event_id), retry_duration=2000
        )


async def _team_id(pool: asyncpg.Pool, team: str) -> UUID | None:
    async with pool.acquire() as conn:
        found = await conn.fetchval(
            "SELECT id FROM read.teams WHERE slug = $1 OR id::text = $1", team
        )
    if found is None:
        raise TeamNotFound(f"no team {team}")
    team_id: UUID = found
    return team_id


async def _messages(
    broadcaster: Broadcaster, pool: asyncpg.Pool, team_id: UUID | None, after: int | None
) -> AsyncGenerator[ServerSentEventMessage, None]:
    mapper = create_mapper()
    team_of = TeamOf(pool)
    async with broadcaster.subscribe() as queue:
        sent = after if after is not None else broadcaster.position
        yield ServerSentEventMessage(comment="connected", event="ready", data=str(sent))
        if after is not None:
            # Catch up from the store, then hand over to the live queue (deduplicated by id).
            while True:
                backlog = await broadcaster.recorder.select_notifications(sent, 500)
                for notification in backlog:
                    message = await _message(mapper, team_of, team_id, notification)
                    sent = notification.id
                    if message is not None:
                        yield message
                if len(backlog) < 500:
                    break
        while True:
            try:
                async with asyncio.timeout(HEARTBEAT):
                    live = await queue.get()
            except TimeoutError:
                yield ServerSentEventMessage(comment="heartbeat")
                continue
            if live is None:
                return
            if live.id <= sent:
                continue
            sent = live.id
            message = await _message(mapper, team_of, team_id, live)
            if message is not None:
                yield message


async def _message(
    mapper: Mapper[Any], team_of: TeamOf, team_id: UUID | None, notification: Notification
) -> ServerSentEventMessage | None:
    change = describe(mapper, notification)
    if change.aggregate not in ("Feedback", "Decision", "Increment", "Incident", "Team"):
        return None
    if team_id is not None and change.aggregate in ("Feedback", "Decision"):
        owner = await team_of(change)
        if owner is not None and owner != team_id:
            return None
    return ServerSentEventMessage(
        data=msgspec.json.encode(change).decode(), event="change", id=str(change.position)
    )
