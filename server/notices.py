"""One connection per API process LISTENing for the notices its in-memory caches depend on.

A cache that follows a channel is used only while the connection is up: when it drops,
each listener is told (`hearing(False)`) and keeps nothing until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Protocol

from infra.database import DATABASE_ERRORS, DatabaseUnavailable, connect
from infra.settings import Settings

RETRY_SECONDS = 1.0
CLOSE_TIMEOUT = 10.0


class Listener(Protocol):
    channel: str

    def heard(self, payload: str) -> None:
        """A notice arrived on `channel`."""

    def hearing(self, on: bool) -> None:
        """Notices reach this process from now on (True), or may be missed (False)."""


async def follow_notices(settings: Settings, dsn: str, listeners: Sequence[Listener]) -> None:
    """Keep a connection listening on the listeners' channels, reconnecting when it drops."""
    while True:
        try:
            conn = await connect(settings, dsn)
        except DatabaseUnavailable:
            await asyncio.sleep(RETRY_SECONDS)
            continue
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _, closed=closed: closed.set())
        try:
            for listener in listeners:
                await conn.add_listener(listener.channel, _deliver(listener))
            for listener in listeners:
                listener.hearing(True)
            await closed.wait()
        except DATABASE_ERRORS:
            pass
        finally:
            for listener in listeners:
                listener.hearing(False)
            with contextlib.suppress(*DATABASE_ERRORS):
                await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT)
        await asyncio.sleep(RETRY_SECONDS)


def _deliver(listener: Listener) -> Callable[[object, int, str, object], None]:
    def deliver(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        listener.heard(str(payload))

    return deliver
