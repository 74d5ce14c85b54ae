"""The mapper worker: maps stored deliveries in the API process, retries with backoff.

Due deliveries are claimed in batches with row locks (FOR UPDATE SKIP LOCKED) held for
the length of their mapping, so several API processes share the queue and a killed
process's claims end with its connection; a restarted process resumes whatever is still
due. A batch is one transaction (one claim, one commit) and each delivery is mapped in
its own savepoint, so one bad delivery fails alone. Domain commands go through the event
store on their own transactions and are idempotent by natural key: a batch that does not
commit (a crash, a lost connection) is mapped again without recording anything twice.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from domain.errors import ConcurrencyConflict, DomainError
from domain.ports import EventStore
from infra.counters import WEBHOOKS_MAPPED
from infra.database import DATABASE_ERRORS
from infra.settings import Settings
from infra.waiting import wait_until_set
from server.webhooks.actions import PayloadError
from server.webhooks.inbox import Claimed, backoff, claim_due, fail, settle
from server.webhooks.mapper import map_delivery

logger = logging.getLogger(__name__)

_DATABASE_ERRORS = DATABASE_ERRORS
BATCH = 32
"""Most deliveries one mapping transaction claims."""


class MappingWorker:
    """Maps due deliveries until stopped; `wake()` after storing one to map it at once."""

    def __init__(self, pool: asyncpg.Pool, store: EventStore, settings: Settings) -> None:
        self.pool = pool
        self.store = store
        self.settings = settings
        self._woken = asyncio.Event()

    def wake(self) -> None:
        self._woken.set()

    async def run(self) -> None:
        while True:
            self._woken.clear()
            try:
                done = await self.drain()
            except _DATABASE_ERRORS as error:
                logger.warning("webhook mapping lost the database (%s); retrying", error)
                done = 0
            if done == 0:
                await wait_until_set(self._woken, self.settings.poll_interval)

    async def drain(self, limit: int | None = None) -> int:
        """Map due deliveries batch by batch until none is due (or `limit`); how many."""
        count = 0
        while limit is None or count < limit:
            size = BATCH if limit is None else min(BATCH, limit - count)
            mapped = await self.map_batch(size)
            if mapped == 0:
                break
            count += mapped
        return count

    async def map_batch(self, size: int = BATCH) -> int:
        """Map up to `size` due deliveries in one transaction; how many were due."""
        async with self.pool.acquire() as conn, conn.transaction():
            claimed = await claim_due(conn, limit=size, delay=self.settings.webhook_map_delay)
            for delivery in claimed:
                await self._map(conn, delivery)
        return len(claimed)

    async def _map(self, conn: asyncpg.pool.PoolConnectionProxy, claimed: Claimed) -> None:
        attempts = claimed.attempts + 1
        try:
            # A savepoint: a failed mapping leaves none of its side-table rows behind.
            async with conn.transaction():
                result = await map_delivery(conn, self.store, claimed)
        except (PayloadError, DomainError) as error:
            if isinstance(error, ConcurrencyConflict):
                await self._retry(conn, claimed.id, attempts, error)
            else:
                # The payload itself is unusable: retrying cannot help; replay can.
                reason = f"{type(error).__name__}: {error}"
                await fail(conn, claimed.id, reason, attempts=attempts, retry_in=None)
                WEBHOOKS_MAPPED.labels("failed").inc()
        except Exception as error:
            logger.warning("mapping webhook delivery %s failed: %r", claimed.id, error)
            await self._retry(conn, claimed.id, attempts, error)
        else:
            await settle(conn, claimed.id, result.state, result.reason, result.outcome)
            WEBHOOKS_MAPPED.labels(result.state).inc()

    async def _retry(
        self, conn: asyncpg.pool.PoolConnectionProxy, delivery: int, attempts: int, error: Exception
    ) -> None:
        retry_in = None
        if attempts < self.settings.webhook_max_attempts:
            retry_in = backoff(attempts, self.settings.webhook_retry_backoff)
        reason = f"{type(error).__name__}: {error}"
        await fail(conn, delivery, reason, attempts=attempts, retry_in=retry_in)
        WEBHOOKS_MAPPED.labels("failed" if retry_in is None else "retry").inc()
