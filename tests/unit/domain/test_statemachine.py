from __future__ import annotations

from collections.abc import Awaitable, Callable

from hypothesis import HealthCheck, settings

from domain.memory import InMemoryEventStore
from domain.ports import EventStore
from tests.unit.domain.machine import make_machine


async def _memory_store() -> tuple[EventStore, Callable[[], Awaitable[None]]]:
    async def close() -> None:
        return None

    return InMemoryEventStore(), close


BacklogOnMemory = make_machine(_memory_store)
BacklogOnMemory.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBacklogOnMemory = BacklogOnMemory.TestCase
