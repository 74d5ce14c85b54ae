"""eventsourcing's own PostgreSQL recorder and Loopline's store read each other's events."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Mapper
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.conninfo import conninfo_to_dict

from infra.eventstore import PostgresEventStore, create_mapper


class Money(msgspec.Struct, frozen=True):
    amount: Decimal
    currency: str


class Ledger(Aggregate):
    def __init__(self, owner: str, opened_on: date) -> None:
        self.owner = owner
        self.opened_on = opened_on
        self.entries: list[tuple[Money, datetime]] = []

    @event("Posted")
    def post(self, money: Money, at: datetime, tags: tuple[str, ...]) -> None:
        self.entries.append((money, at))


def library_recorder(dsn: str) -> PostgresApplicationRecorder:
    info: dict[str, Any] = conninfo_to_dict(dsn)
    datastore = PostgresDatastore(
        dbname=info["dbname"],
        host=info.get("host", ""),
        port=info.get("port", 5432),
        user=info.get("user", "postgres"),
        password=info.get("password", ""),
    )
    return PostgresApplicationRecorder(datastore, events_table_name="stored_events")


def a_ledger() -> Ledger:
    ledger = Ledger(owner="ada", opened_on=date(2026, 1, 2))
    ledger.post(
        money=Money(amount=Decimal("12.50"), currency="EUR"),
        at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
        tags=("refund", "vip"),
    )
    return ledger


async def test_library_reads_events_loopline_wrote(
    event_store: PostgresEventStore, database_url: str
) -> None:
    # Loopline saves an aggregate.
    ledger = a_ledger()
    pending = list(ledger.pending_events)
    await event_store.save(ledger)
    # eventsourcing's stock recorder, with the same mapper, reads equal domain events.
    recorder = library_recorder(database_url)
    mapper: Mapper[Any] = create_mapper()
    stored = await asyncio.to_thread(recorder.select_events, ledger.id)
    assert [mapper.to_domain_event(s) for s in stored] == pending
    # Its notification log agrees too.
    notifications = await asyncio.to_thread(recorder.select_notifications, 1, 10)
    assert [n.originator_version for n in notifications] == [1, 2]
    assert await asyncio.to_thread(recorder.max_notification_id) == 2
    recorder.datastore.close()


async def test_loopline_reads_events_the_library_wrote(
    event_store: PostgresEventStore, database_url: str
) -> None:
    # eventsourcing's stock recorder writes an aggregate's events.
    ledger = a_ledger()
    pending = list(ledger.collect_events())
    recorder = library_recorder(database_url)
    mapper: Mapper[Any] = create_mapper()
    await asyncio.to_thread(recorder.insert_events, [mapper.to_stored_event(e) for e in pending])
    recorder.datastore.close()
    # Loopline reads them back as equal events and rebuilds an equal aggregate.
    events = await event_store.get_events(ledger.id)
    assert list(events) == pending
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt == ledger
    # And Loopline can continue the stream after the library's events.
    ledger.post(money=Money(amount=Decimal(1), currency="EUR"), at=datetime.now(UTC), tags=())
    recording = await event_store.save(ledger)
    assert recording.positions == (3,)


async def test_mapper_round_trips_every_supported_type() -> None:
    # Every type event state may hold comes back as the type the event class declares.
    ledger = Ledger(owner="ada", opened_on=date(2026, 1, 2))
    ledger.post(
        money=Money(amount=Decimal("0.10"), currency="GBP"),
        at=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        tags=("a", "b"),
    )
    mapper = create_mapper()
    for original in ledger.collect_events():
        restored: Any = mapper.to_domain_event(mapper.to_stored_event(original))
        assert restored == original
        assert type(restored) is type(original)
    posted: Any = restored
    assert isinstance(posted.money, Money)
    assert isinstance(posted.money.amount, Decimal)
    assert isinstance(posted.tags, tuple)
    assert isinstance(posted.at, datetime)
    assert isinstance(posted.originator_id, UUID)
