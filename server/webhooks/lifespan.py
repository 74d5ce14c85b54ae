"""Starting and stopping the webhook workers with the API process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from infra.settings import Settings
from server.webhooks.outbound import NotificationFollower, NotificationSender
from server.webhooks.worker import MappingWorker


def webhooks_lifespan(
    settings: Settings,
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Runs the mapper, the notification follower and senders while the app serves.

    Listed after the database lifespan, whose pool and store it uses.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        mapper = MappingWorker(app.state.pool, app.state.store, settings)
        follower = NotificationFollower(app.state.pool, app.state.store, settings)
        sender = NotificationSender(app.state.pool, settings, follower.queued)
        app.state.webhook_mapper = mapper
        tasks = [
            asyncio.create_task(mapper.run(), name="webhook-mapper"),
            asyncio.create_task(follower.run(), name="notification-follower"),
            asyncio.create_task(sender.run(), name="notification-sender"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    return lifespan
