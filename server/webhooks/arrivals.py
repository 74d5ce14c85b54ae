"""Deliveries that arrive together are stored together: one insert, one commit.

Every delivery is answered only after the transaction holding it committed, so each one
waits for a WAL flush; that flush, not the insert, is what a delivery costs PostgreSQL.
Deliveries that arrive while a flush is under way are gathered and stored by the next
insert, so concurrent senders share flushes, and a lone delivery is stored at once (the
writer never waits for company). A batch the database refuses as a whole (one unusable
row) is stored again one delivery at a time, so only the unusable one fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import asyncpg

from infra.database import TRANSIENT_ERRORS
from server.webhooks.inbox import Arrival, Stored, store_deliveries, store_delivery

logger = logging.getLogger(__name__)

MAX_BATCH = 64
"""Most deliveries one insert stores."""
FLUSHERS = 2
"""Inserts in flight at once: while one waits for its commit, the next gathers arrivals."""

_Waiting = tuple[Arrival, "asyncio.Future[Stored]"]


class ArrivalWriter:
    """Stores verified deliveries in the inbox, batching those that arrive together."""

    def __init__(
        self, pool: asyncpg.Pool, *, max_batch: int = MAX_BATCH, flushers: int = FLUSHERS
    ) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self.flushers = flushers
        self._waiting: list[_Waiting] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def store(self, arrival: Arrival) -> Stored:
        """Where `arrival` landed, once the transaction holding it committed."""
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._waiting.append((arrival, future))
        if len(self._tasks) < self.flushers:
            task = asyncio.create_task(self._flush(), name="webhook-arrivals")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # The insert runs in a flusher task, not in this request: a sender hanging up
        # does not cancel the insert other deliveries of its batch wait for.
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            await self._store(batch)

    async def _store(self, batch: Sequence[_Waiting]) -> None:
        try:
            async with self.pool.acquire() as conn:
                stored = await store_deliveries(conn, [arrival for arrival, _ in batch])
        except TRANSIENT_ERRORS as error:
            # The database is away: every delivery of the batch is refused alike (503).
            for _, future in batch:
                _answer(future, error=error)
        except Exception as error:
            if len(batch) == 1:
                _answer(batch[0][1], error=error)
                return
            logger.warning(
                "a batch of %d deliveries was refused (%r); one by one", len(batch), error
            )
            await self._one_by_one(batch)
        else:
            for (_, future), answer in zip(batch, stored, strict=True):
                _answer(future, answer)

    async def _one_by_one(self, batch: Sequence[_Waiting]) -> None:
        for arrival, future in batch:
            try:
                async with self.pool.acquire() as conn:
                    stored = await store_delivery(
                        conn,
                        source=arrival.source,
                        delivery_id=arrival.delivery_id,
                        event=arrival.event,
                        repository=arrival.repository,
                        integration_id=arrival.integration_id,
                        headers=arrival.headers,
                        body=arrival.body,
                    )
            except Exception as error:
                _answer(future, error=error)
            else:
                _answer(future, stored)


def _answer(
    future: asyncio.Future[Stored],
    stored: Stored | None = None,
    *,
    error: BaseException | None = None,
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert stored is not None
        future.set_result(stored)
