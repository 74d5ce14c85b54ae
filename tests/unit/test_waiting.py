"""A worker's wait for its wake-up event never loses the cancellation that stops it."""

from __future__ import annotations

import asyncio

import pytest

from infra.waiting import wait_until_set


async def test_a_cancellation_arriving_as_the_event_is_set_still_cancels() -> None:
    event = asyncio.Event()
    rounds = 0

    async def worker() -> None:
        # The shape of every follower loop: wait for a wake-up (or a poll), work, repeat.
        nonlocal rounds
        while True:
            await wait_until_set(event, 60.0)
            event.clear()
            rounds += 1

    task = asyncio.create_task(worker())
    await asyncio.sleep(0)  # the worker waits
    # A notification and the shutdown arrive together.
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert rounds == 0


async def test_it_says_whether_the_event_came_or_the_time_ran_out() -> None:
    event = asyncio.Event()
    assert await wait_until_set(event, 0.01) is False
    event.set()
    assert await wait_until_set(event, 0.01) is True
