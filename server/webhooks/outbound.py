"""Outbound close-the-loop notifications, signed the Standard Webhooks way.

A follower reads the event store from its tracked position (like a projection) and
queues one delivery per configured target for each feedback item that shipped or
whose loop closed, writing the deliveries and its position in one transaction.
Senders post due deliveries with a timeout and a bounded read of the answer,
retry with exponential backoff, and log every attempt.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
import httpx
import msgspec
from eventsourcing.persistence import Notification

from domain import services
from domain.feedback import Feedback
from infra.database import DATABASE_ERRORS, Connection
from infra.eventstore import PostgresEventStore
from infra.recorder import TrackingConflict
from infra.settings import Settings
from infra.waiting import wait_until_set
from projections.base import events_of
from server.webhooks.errors import ConfigurationNotFound, InvalidConfiguration, TargetRefused
from server.webhooks.inbox import backoff
from server.webhooks.verify import standard_signature

logger = logging.getLogger(__name__)

TRACKING = "webhooks.notifications"
SHIPPED, LOOP_CLOSED = "feedback.shipped", "feedback.loop_closed"
EVENTS = (SHIPPED, LOOP_CLOSED)
_TOPICS = dict(zip(events_of(Feedback, "MarkedShipped", "LoopClosed"), EVENTS, strict=True))
MAX_RESPONSE_BYTES = 64 * 1024
SENDERS = 4
_DATABASE_ERRORS = DATABASE_ERRORS


class Target(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    url: str
    events: tuple[str, ...]
    created_at: datetime


class NotificationDelivery(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    target_id: UUID
    message_id: str
    event: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None


# -- targets ----------------------------------------------------------------------------


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_target(url: str, *, allow_private: bool) -> None:
    """`TargetRefused` unless `url` is http(s) and (unless allowed) every address it
    resolves to is public: no private, loopback, link-local or otherwise reserved ones."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("must be an http:// or https:// URL with a host")
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(f"cannot resolve {parts.hostname}") from None
    for info in infos:
        if _refused(str(info[4][0])):
            raise TargetRefused(
                f"{parts.hostname} resolves to {info[4][0]}, a private, loopback or link-local "
                "address (set LOOPLINE_OUTBOUND_ALLOW_PRIVATE=true to allow it)"
            )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def add_target(
    conn: Connection,
    *,
    url: str,
    secret: str | None,
    events: Sequence[str] = EVENTS,
    allow_private: bool,
) -> tuple[Target, str]:
    """Store a target (notified of events after now); the target and its signing secret."""
    await check_target(url, allow_private=allow_private)
    unknown = set(events) - set(EVENTS)
    if unknown or not events:
        raise InvalidConfiguration("events", f"choose from {', '.join(EVENTS)}")
    if secret is not None and len(secret) < 16:
        raise InvalidConfiguration("secret", "must be at least 16 characters")
    key = secret or new_secret()
    row = await conn.fetchrow(
        "INSERT INTO notification_targets (id, url, secret, events, since_position)"
        " VALUES ($1, $2, $3, $4, (SELECT coalesce(max(notification_id), 0) FROM stored_events))"
        " RETURNING id, url, events, created_at",
        uuid.uuid4(),
        url,
        key,
        sorted(set(events)),
    )
    assert row is not None
    return _target(row), key


def _target(row: asyncpg.Record) -> Target:
    return Target(
        id=row["id"], url=row["url"], events=tuple(row["events"]), created_at=row["created_at"]
    )


async def list_targets(conn: Connection) -> list[Target]:
    rows = await conn.fetch(
        "SELECT id, url, events, created_at FROM notification_targets ORDER BY created_at, id"
    )
    return [_target(row) for row in rows]


async def remove_target(conn: Connection, target_id: UUID) -> None:
    done = await conn.execute("DELETE FROM notification_targets WHERE id = $1", target_id)
    if done.endswith(" 0"):
        raise ConfigurationNotFound(f"no notification target {target_id}")


async def list_notifications(
    conn: Connection, *, state: str | None = None, limit: int = 100
) -> list[NotificationDelivery]:
    rows = await conn.fetch(
        "SELECT id, target_id, message_id, event, state, attempts, last_status, last_error,"
        " created_at, delivered_at, next_attempt_at FROM notification_deliveries"
        " WHERE ($1::text IS NULL OR state = $1) ORDER BY id DESC LIMIT $2",
        state,
        limit,
    )
    return [NotificationDelivery(**dict(row)) for row in rows]


# -- following the store ------------------------------------------------------------------


async def _payload(store: PostgresEventStore, notification: Notification, kind: str) -> bytes:
    event: Any = store.mapper.to_domain_event(notification)
    item = await services.get_feedback(store, notification.originator_id)
    data: dict[str, Any] = {
        "feedback": item.key,
        "feedback_id": str(item.id),
        "customer": item.customer_ref,
        "channel": item.channel,
        "external_ref": item.external_ref,
        "status": item.status,
    }
    if kind == SHIPPED:
        data |= {
            "shipped_at": event.shipped_at.isoformat(),
            "increment_id": str(event.increment_id),
            "decision_id": str(event.decision_id) if event.decision_id else None,
        }
    else:
        data |= {"closed_at": event.closed_at.isoformat(), "how": event.how, "note": event.note}
    body = {"type": kind, "timestamp": event.timestamp.isoformat(), "data": data}
    return msgspec.json.encode(body)


class NotificationFollower:
    """Queues notifications for feedback that shipped or whose loop closed."""

    def __init__(self, pool: asyncpg.Pool, store: PostgresEventStore, settings: Settings) -> None:
        self.pool = pool
        self.store = store
        self.settings = settings
        self.queued = asyncio.Event()

    async def run(self) -> None:
        recorder = self.store.recorder
        while True:
            try:
                position = await recorder.position(TRACKING)
                async for notification in recorder.follow(position, topics=list(_TOPICS)):
                    await self.handle(notification)
            except _DATABASE_ERRORS as error:
                logger.warning("notification follower lost the database (%s); retrying", error)
                await asyncio.sleep(self.settings.poll_interval)

    async def handle(self, notification: Notification) -> None:
        kind = _TOPICS[notification.topic]
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                targets = await conn.fetch(
                    "SELECT id FROM notification_targets"
                    " WHERE since_position < $1 AND $2 = ANY(events)",
                    notification.id,
                    kind,
                )
                # The payload loads aggregates: only worth it when someone listens.
                payload = await _payload(self.store, notification, kind) if targets else b""
                await conn.executemany(
                    "INSERT INTO notification_deliveries"
                    " (target_id, message_id, event, position, payload, next_attempt_at)"
                    " VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT DO NOTHING",
                    [
                        (
                            t["id"],
                            f"msg_{notification.id}_{t['id'].hex[:12]}",
                            kind,
                            notification.id,
                            payload,
                        )
                        for t in targets
                    ],
                )
                await self.store.recorder.record_position(conn, TRACKING, notification.id)
        except TrackingConflict:
            return  # another API process queued it already
        self.queued.set()


# -- sending ------------------------------------------------------------------------------

_CLAIM = (
    "SELECT d.id, d.message_id, d.payload, d.attempts, t.url, t.secret"
    " FROM notification_deliveries d JOIN notification_targets t ON t.id = d.target_id"
    " WHERE d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= now()"
    " ORDER BY d.next_attempt_at, d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED"
)


class Answer(msgspec.Struct, frozen=True):
    status: int | None
    error: str | None
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class NotificationSender:
    """Posts due notifications; several senders share the queue (SKIP LOCKED)."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, queued: asyncio.Event) -> None:
        self.pool = pool
        self.settings = settings
        self.queued = queued

    async def run(self) -> None:
        async with (
            httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.outbound_timeout), follow_redirects=False
            ) as client,
            asyncio.TaskGroup() as group,
        ):
            for _ in range(SENDERS):
                group.create_task(self._loop(client))

    async def _loop(self, client: httpx.AsyncClient) -> None:
        while True:
            try:
                sent = await self.send_next(client)
            except _DATABASE_ERRORS as error:
                logger.warning("notification sender lost the database (%s); retrying", error)
                sent = False
            if not sent:
                self.queued.clear()
                await wait_until_set(self.queued, self.settings.poll_interval)

    async def send_next(self, client: httpx.AsyncClient) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_CLAIM)
            if row is None:
                return False
            attempt = row["attempts"] + 1
            began = time.monotonic()
            answer = await self.post(
                client, row["url"], row["secret"], row["message_id"], row["payload"]
            )
            await conn.execute(
                "INSERT INTO notification_attempts"
                " (delivery_id, attempt, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)",
                row["id"],
                attempt,
                answer.status,
                answer.error,
                int((time.monotonic() - began) * 1000),
            )
            retry_in = None
            if (
                not answer.ok
                and not answer.refused
                and attempt < self.settings.webhook_max_attempts
            ):
                retry_in = backoff(attempt, self.settings.webhook_retry_backoff)
            state = "delivered" if answer.ok else ("pending" if retry_in is not None else "failed")
            await conn.execute(
                "UPDATE notification_deliveries SET state = $2, attempts = $3, last_status = $4,"
                " last_error = $5, delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,"
                " next_attempt_at = CASE WHEN $6::float8 IS NULL THEN NULL"
                " ELSE now() + make_interval(secs => $6::float8) END WHERE id = $1",
                row["id"],
                state,
                attempt,
                answer.status,
                answer.error,
                retry_in,
            )
        return True

    async def post(
        self, client: httpx.AsyncClient, url: str, secret: str, message_id: str, payload: bytes
    ) -> Answer:
        """One signed POST; the answer's status (its body read up to 64 KiB), or the error."""
        try:
            # Checked again at send time: a name may resolve elsewhere since it was added.
            await check_target(url, allow_private=self.settings.outbound_allow_private)
        except TargetRefused as refused:
            return Answer(None, str(refused), refused=True)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "Loopline-Webhooks/1",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signature(secret, message_id, timestamp, payload),
        }
        try:
            async with asyncio.timeout(self.settings.outbound_timeout):
                async with client.stream("POST", url, content=payload, headers=headers) as answer:
                    read = 0
                    async for chunk in answer.aiter_raw():
                        read += len(chunk)
                        if read >= MAX_RESPONSE_BYTES:
                            break
                    return Answer(
                        answer.status_code,
                        None if answer.is_success else f"HTTP {answer.status_code}",
                    )
        except TimeoutError:
            return Answer(None, f"no answer within {self.settings.outbound_timeout}s")
        except httpx.HTTPError as error:
            return Answer(None, f"{type(error).__name__}: {error}"[:500])
