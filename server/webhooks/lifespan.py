"""The webhook workers (mapper, notification follower, senders) on a pool of their own: in
the API process (LOOPLINE_RUN_WEBHOOK_WORKERS) or in `loopline work` processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import asyncpg
import msgspec
from litestar import Litestar

from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.settings import Settings
from server.webhooks.arrivals import ArrivalWriter
from server.webhooks.outbound import NotificationFollower, NotificationSender
from server.webhooks.worker import MappingWorker

_CLOSE_TIMEOUT = 10.0

WORKER_APPLICATION = "loopline-worker"
"""`application_name` of the workers' connections, so operators (and tests) tell them apart
from the API's in pg_stat_activity."""


class WebhookWorkers:
    """The mapper, the notification follower and the senders, sharing one pool.

    The API's connections are never held across a notification's network I/O: the workers
    have their own pool, and a sender holds a connection only to claim and to record.
    """

    def __init__(self, settings: Settings, dsn: str, pool: asyncpg.Pool) -> None:
        self.pool = pool
        store = PostgresEventStore.from_pool(pool, settings)
        self.mapper = MappingWorker(pool, store, settings)
        self.follower = NotificationFollower(pool, store, settings, dsn=dsn)
        self.sender = NotificationSender(pool, settings, self.follower.queued)
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def open(cls, settings: Settings, dsn: str) -> WebhookWorkers:
        sized = msgspec.structs.replace(
            settings, pool_min_size=1, pool_max_size=settings.worker_pool_size
        )
        pool = await create_pool(sized, dsn, application_name=WORKER_APPLICATION)
        return cls(settings, dsn, pool)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self.mapper.run(), name="webhook-mapper"),
            asyncio.create_task(self.follower.run(), name="notification-follower"),
            asyncio.create_task(self.sender.run(), name="notification-sender"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await asyncio.wait_for(self.pool.close(), _CLOSE_TIMEOUT)
        except TimeoutError:
            self.pool.terminate()

    async def run_until(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set (`loopline work`)."""
        self.start()
        try:
            await stop.wait()
        finally:
            await self.close()


def webhooks_lifespan(
    settings: Settings,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Stores deliveries through an `ArrivalWriter` on the API's pool, and runs the webhook
    workers while the app serves, unless LOOPLINE_RUN_WEBHOOK_WORKERS is false (then
    `loopline work` processes run them; stored deliveries wait for them).

    Listed after the database lifespan, whose DSN it uses.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.arrivals = ArrivalWriter(app.state.pool)
        if not settings.run_webhook_workers:
            yield
            return
        workers = await WebhookWorkers.open(settings, app.state.dsn)
        app.state.webhook_mapper = workers.mapper
        workers.start()
        try:
            yield
        finally:
            await workers.close()

    return lifespan
