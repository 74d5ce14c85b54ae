"""Domain events through the production mapper (msgspec transcoder): upcasting and round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from domain import services as s
from domain.increment import Commit
from domain.memory import InMemoryEventStore
from infra.eventstore import create_mapper


class Memo(Aggregate):
    """A stand-in aggregate whose creation event gained a field in version 2."""

    class Written(Aggregate.Created):
        class_version = 2
        text: str
        language: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["language"] = "en"

    @event(Written)
    def __init__(self, text: str, language: str) -> None:
        self.text = text
        self.language = language


def _mapper() -> Mapper[Any]:
    return create_mapper()


def test_an_event_stored_as_version_1_loads_as_version_2() -> None:
    mapper = _mapper()
    transcoder = mapper.transcoder

    # An event was stored before `language` existed (no class_version means version 1).
    v1_state = {
        "timestamp": datetime(2024, 5, 1, tzinfo=UTC),
        "originator_topic": get_topic(Memo),
        "text": "hello",
    }
    stored = StoredEvent(
        originator_id=uuid4(),
        originator_version=1,
        topic=get_topic(Memo.Written),
        state=transcoder.encode(v1_state),
    )

    # It loads through the upcaster, and the aggregate rebuilds with the default.
    domain_event: Any = mapper.to_domain_event(stored)
    memo = domain_event.mutate(None)
    assert isinstance(memo, Memo)
    assert memo.text == "hello"
    assert memo.language == "en"

    # A version 2 event round-trips as version 2, keeping its own value.
    fresh = Memo(text="bonjour", language="fr")
    (created,) = fresh.collect_events()
    restored: Any = mapper.to_domain_event(mapper.to_stored_event(created))
    assert restored.mutate(None) == fresh


async def test_every_domain_event_round_trips_through_the_transcoder() -> None:
    store = InMemoryEventStore()
    start = datetime.now(UTC) - timedelta(days=30)

    # A small story touching every aggregate and value object.
    team = await s.form_team(store, slug="web", name="Web", formed_at=start)
    await s.add_member(store, "web", handle="ana", skills=["python"])
    await s.own_repository(store, "web", repository="acme/web")
    outcome = await s.define_outcome(store, statement="Fast pages", measure="p75 LCP")
    await s.adopt_outcome(store, team.id, outcome_id=outcome.id)
    a = await s.receive_feedback(store, channel="survey", text="slow", nps=4, nps_reason="slow")
    b = await s.receive_feedback(store, channel="chat", text="so slow", customer_ref="c9")
    await s.mark_duplicate(store, b.id, original=a.id)
    await s.triage_feedback(store, a.id, team="web", tags=["perf"], impact="high")
    dec = await s.propose_decision(
        store, team="web", title="Cache", rationale="r", options=("cdn", "ssr"), feedback=[a.id]
    )
    await s.accept_decision(store, dec.id)
    inc = await s.record_increment(
        store,
        service="acme/web",
        environment="production",
        commit_sha="c0ffee1",
        commits=[Commit("c0ffee1", start, f"cache pages {dec.key}")],
    )
    await s.open_incident(store, service="acme/web", title="cache bug", caused_by_increment=inc.id)
    await s.defer_feedback(
        store,
        (await s.receive_feedback(store, channel="web", text="later")).id,
        until=(datetime.now(UTC) + timedelta(days=9)).date(),
    )

    # Every stored event comes back equal, and so does every aggregate rebuilt from them.
    mapper = _mapper()
    for originator_id in store.originator_ids():
        events = await store.get_events(originator_id)
        restored: list[Any] = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]
        assert restored == list(events)
        original: Any = None
        copy: Any = None
        for e, r in zip(events, restored, strict=True):
            original = e.mutate(original)
            copy = r.mutate(copy)
        assert copy == original
