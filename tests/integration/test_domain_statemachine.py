"""The backlog state machine of tests/unit against the PostgreSQL event store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.stateful import run_state_machine_as_test

from domain.ports import EventStore
from infra.database import create_pool
from infra.eventstore import PostgresEventStore
from infra.settings import Settings
from tests.unit.domain.machine import make_machine


def test_backlog_invariants_hold_on_postgres(database_url: str, settings: Settings) -> None:
    # The machine runs its own event loop, so the pool is built inside it (the `event_store`
    # fixture lives on pytest's loop). Runs share the database; each uses its own team and refs.
    async def postgres_store() -> tuple[EventStore, Callable[[], Awaitable[None]]]:
        pool = await create_pool(settings, database_url)
        return PostgresEventStore.from_pool(pool, settings), pool.close

    machine = make_machine(postgres_store)
    run_state_machine_as_test(
        machine,
        settings=hypothesis_settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
