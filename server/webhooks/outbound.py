"""Outbound close-the-loop notifications, signed the Standard Webhooks way.

A follower reads the event store from its tracked position (like a projection, and
leased like one: one follower at a time, however many processes run workers) and queues
one delivery per configured target for each feedback item that shipped or whose loop
closed, writing the deliveries and its position in one transaction.

Senders claim a due delivery with a lease (a short transaction moves its next attempt past
the send's time-out and commits), post it holding no connection, transaction or lock, then
record the answer in a second short transaction; a sender killed mid-send leaves a lease
that expires, and the delivery is sent again (receivers deduplicate on `webhook-id`). A
post goes to the address that was checked: the name is resolved once, every address it
resolves to is checked, and the connection is made to one of them with the name as Host
and TLS server name, so the name cannot be re-pointed between check and connect.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
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
from infra.counters import NOTIFICATIONS_SENT
from infra.database import DATABASE_ERRORS, Connection, connect
from infra.eventstore import PostgresEventStore
from infra.recorder import TrackingConflict
from infra.settings import Settings
from infra.waiting import wait_until_set
from projections.base import events_of
from projections.runner import LEASE_NAMESPACE, lease_key
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
LEASE_MARGIN = 30.0
"""Seconds a sender's claim outlasts the send's time-out before another sender may take it."""
FOLLOWER_LEASE_RETRY = 2.0
"""Seconds between tries at the follower's lease while another process holds it."""
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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
    (`::a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`) or Teredo's client; else None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    value = int(ip)
    if ip in _NAT64 or (value >> 32 == 0 and value > 1):
        return ipaddress.IPv4Address(value & 0xFFFF_FFFF)
    return None


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return True  # a local-use translation prefix: whatever it embeds is not public
        inner = embedded_ipv4(ip)
        if inner is not None and (not inner.is_global or inner.is_multicast):
            return True
    return not ip.is_global or ip.is_multicast


Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) → the addresses it resolves to; the system resolver unless a test says."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> list[str]:
    """The addresses `url`'s host resolves to, once; `TargetRefused` unless it is http(s)
    and (unless allowed) every one of them is public: no private, loopback, link-local or
    otherwise reserved address, nor an IPv6 form of one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("must be an http:// or https:// URL with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = await resolver(parts.hostname, port)
    except (OSError, UnicodeError, ValueError):
        raise TargetRefused(f"cannot resolve {parts.hostname}") from None
    if not addresses:
        raise TargetRefused(f"cannot resolve {parts.hostname}")
    if not allow_private:
        for address in addresses:
            if _refused(address):
                raise TargetRefused(
                    f"{parts.hostname} resolves to {address}, a private, loopback or "
                    "link-local address, or an IPv6 form of one (set "
                    "LOOPLINE_OUTBOUND_ALLOW_PRIVATE=true to allow it)"
                )
    return addresses


async def check_target(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> None:
    """`TargetRefused` unless `url` may be notified (see `checked_addresses`)."""
    await checked_addresses(url, allow_private=allow_private, resolver=resolver)


class Pinned(msgspec.Struct, frozen=True):
    """A request aimed at one checked address: the URL with that address as its host, and
    the name it had as Host header and TLS server name (certificates are verified for it)."""

    url: str
    host_header: str
    server_name: str


def pin(url: str, address: str) -> Pinned:
    original = httpx.URL(url)
    pinned = original.copy_with(host=address.split("%", 1)[0])
    return Pinned(
        url=str(pinned),
        host_header=original.netloc.decode("ascii"),
        server_name=original.raw_host.decode("ascii"),
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

    def __init__(
        self,
        pool: asyncpg.Pool,
        store: PostgresEventStore,
        settings: Settings,
        *,
        dsn: str | None = None,
        lease_retry: float = FOLLOWER_LEASE_RETRY,
    ) -> None:
        self.pool = pool
        self.store = store
        self.settings = settings
        self.dsn = dsn
        self.lease_retry = lease_retry
        self.queued = asyncio.Event()
        self.leased = False
        """Whether this follower holds the lease (tests and operators look)."""

    async def run(self) -> None:
        """Follow while holding the lease (a session advisory lock on a connection of its
        own, like a projection's): one follower at a time however many processes run
        workers; when that connection dies the lease goes with it and another takes over."""
        while True:
            try:
                await self._lease_and_follow()
            except _DATABASE_ERRORS as error:
                logger.warning("notification follower lost the database (%s); retrying", error)
            self.leased = False
            await asyncio.sleep(self.lease_retry)

    async def _lease_and_follow(self) -> None:
        if self.dsn is None:
            await self._follow()
            return
        lease = await connect(self.settings, self.dsn)
        try:
            taken = await lease.fetchval(
                "SELECT pg_try_advisory_lock($1, $2)", LEASE_NAMESPACE, lease_key(TRACKING)
            )
            if not taken:
                return
            self.leased = True
            lost = asyncio.Event()

            def on_lost(_: object) -> None:
                lost.set()

            # The lease ends with its connection: stop following at once when it does.
            lease.add_termination_listener(on_lost)
            following = asyncio.create_task(self._follow(), name="notification-follow")
            losing = asyncio.create_task(lost.wait(), name="notification-lease")
            try:
                await asyncio.wait({following, losing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                following.cancel()
                losing.cancel()
                await asyncio.gather(following, losing, return_exceptions=True)
            if following.done() and not following.cancelled():
                following.result()  # its database error, for run() to report
            raise asyncpg.ConnectionDoesNotExistError("the follower's lease connection was lost")
        finally:
            with contextlib.suppress(Exception):
                await lease.close()

    async def _follow(self) -> None:
        recorder = self.store.recorder
        position = await recorder.position(TRACKING)
        # A target hears only of events after its `since_position`: the events up to the
        # smallest of them (all of them, with no target) can be passed over unread. On a
        # store with a long history and no target (most instances) that skips one
        # transaction per shipped or closed item ever recorded at every first start.
        async with self.pool.acquire() as conn:
            useless_up_to: int = await conn.fetchval(_NOTHING_TO_SEND_UP_TO)
        position = max(position, useless_up_to)
        async for notification in recorder.follow(position, topics=list(_TOPICS)):
            await self.handle(notification)

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
        if targets:  # the senders have something to send (waking them for nothing cost
            self.queued.set()  # four claim queries per shipped or closed item)


_NOTHING_TO_SEND_UP_TO = """
SELECT coalesce(
    (SELECT min(since_position) FROM notification_targets),
    (SELECT coalesce(max(notification_id), 0) FROM stored_events)
)
"""
"""The position up to which no target can be owed anything (one statement, one snapshot: a
target formed after it has a `since_position` at least this)."""


# -- sending ------------------------------------------------------------------------------

_CLAIM = """
UPDATE notification_deliveries d
SET next_attempt_at = now() + make_interval(secs => $1::float8)
FROM notification_targets t
WHERE t.id = d.target_id AND d.id = (
    SELECT id FROM notification_deliveries
    WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING d.id, d.message_id, d.payload, d.attempts, d.next_attempt_at AS lease, t.url, t.secret
"""
"""Claim the next due delivery: its next attempt moves past the lease (one statement, one
transaction, committed before the send)."""

_RECORD = (
    "UPDATE notification_deliveries SET state = $2, attempts = $3, last_status = $4,"
    " last_error = $5, delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,"
    " next_attempt_at = CASE WHEN $6::float8 IS NULL THEN NULL"
    " ELSE now() + make_interval(secs => $6::float8) END"
    " WHERE id = $1 AND next_attempt_at = $7"
)
"""Record an answer, provided the lease is still this sender's (not expired and re-taken)."""

_RELEASE = (
    "UPDATE notification_deliveries SET next_attempt_at = now()"
    " WHERE id = $1 AND next_attempt_at = $2"
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

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        queued: asyncio.Event,
        *,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.queued = queued
        self.resolver = resolver

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
        """Claim, send and record one due delivery; False when none was due."""
        lease = self.settings.outbound_timeout + LEASE_MARGIN
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(_CLAIM, lease)
        if row is None:
            return False
        # No connection, transaction or lock is held from here until the answer is in.
        attempt = row["attempts"] + 1
        began = time.monotonic()
        try:
            answer = await self.post(
                client, row["url"], row["secret"], row["message_id"], row["payload"]
            )
        except asyncio.CancelledError:
            # Stopping: hand the delivery back now rather than when the lease runs out.
            with contextlib.suppress(*_DATABASE_ERRORS, TimeoutError):
                async with asyncio.timeout(2.0), self.pool.acquire() as conn:
                    await conn.execute(_RELEASE, row["id"], row["lease"])
            raise
        duration = int((time.monotonic() - began) * 1000)
        retry_in = None
        if not answer.ok and not answer.refused and attempt < self.settings.webhook_max_attempts:
            retry_in = backoff(attempt, self.settings.webhook_retry_backoff)
        state = "delivered" if answer.ok else ("pending" if retry_in is not None else "failed")
        async with self.pool.acquire() as conn, conn.transaction():
            done = await conn.execute(
                _RECORD,
                row["id"],
                state,
                attempt,
                answer.status,
                answer.error,
                retry_in,
                row["lease"],
            )
            if not done.endswith(" 0"):
                NOTIFICATIONS_SENT.labels(state).inc()
            if done.endswith(" 0"):
                # The lease ran out and another sender took the delivery: its record counts.
                logger.warning("notification %s: lease lost before its answer", row["id"])
                return True
            await conn.execute(
                "INSERT INTO notification_attempts"
                " (delivery_id, attempt, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT DO NOTHING",
                row["id"],
                attempt,
                answer.status,
                answer.error,
                duration,
            )
        return True

    async def post(
        self, client: httpx.AsyncClient, url: str, secret: str, message_id: str, payload: bytes
    ) -> Answer:
        """One signed POST; the answer's status (its body read up to 64 KiB), or the error."""
        try:
            # Checked again at send time (a name may resolve elsewhere since it was added),
            # and the connection goes to an address this check passed.
            addresses = await checked_addresses(
                url, allow_private=self.settings.outbound_allow_private, resolver=self.resolver
            )
        except TargetRefused as refused:
            return Answer(None, str(refused), refused=True)
        target = pin(url, addresses[0])
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "Loopline-Webhooks/1",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_signature(secret, message_id, timestamp, payload),
            "host": target.host_header,
        }
        try:
            async with (
                asyncio.timeout(self.settings.outbound_timeout),
                client.stream(
                    "POST",
                    target.url,
                    content=payload,
                    headers=headers,
                    extensions={"sni_hostname": target.server_name},
                ) as answer,
            ):
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
