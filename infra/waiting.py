"""Waiting for an event with a time limit, without losing a cancellation."""

from __future__ import annotations

import asyncio


async def wait_until_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; True when it was set.

    Long-running loops use this instead of `asyncio.wait_for(event.wait(), ...)`: on
    Python 3.11, a cancellation that arrives just as the event is set is swallowed by
    `wait_for` (it returns the result instead), and the loop then runs on forever, which
    held up shutdown whenever notifications were flowing. `asyncio.timeout` keeps it.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
