from __future__ import annotations

from datetime import timedelta

import pytest

from domain import services as s
from domain.errors import InvalidTransition, ValidationError
from domain.increment import Commit, IncrementNotFound
from domain.memory import InMemoryEventStore
from domain.references import ReferencePattern, extract_references
from tests.unit.domain.times import day


def test_references_are_found_in_any_case_and_not_inside_words() -> None:
    refs = extract_references(
        ["Fixes fb-12 and FB-7.", "ships DEC-3; see dec-3 again", "xFB-1 FB-2a FB-0 feedback-9"]
    )
    assert refs.feedback == ("FB-12", "FB-7")
    assert refs.decisions == ("DEC-3",)

    # The pattern is configurable, but must name its groups.
    loose = ReferencePattern(regex=r"(?P<prefix>FB|DEC)[-_ ]?(?P<number>[0-9]+)")
    assert extract_references(["fb_12, DEC 4"], loose).feedback == ("FB-12",)
    with pytest.raises(ValidationError):
        ReferencePattern(regex=r"FB-\d+")


async def test_a_production_increment_ships_what_it_references_once(
    store: InMemoryEventStore,
) -> None:
    await s.form_team(store, slug="web", name="Web", formed_at=day(0))
    planned = await s.receive_feedback(store, channel="web", text="Bulk edit", received_at=day(1))
    direct = await s.receive_feedback(store, channel="chat", text="Typo", received_at=day(1))
    dupe = await s.receive_feedback(store, channel="chat", text="Typo!", received_at=day(1))
    await s.mark_duplicate(store, dupe.id, original=direct.id)
    await s.triage_feedback(store, planned.id, team="web")
    dec = await s.propose_decision(
        store, team="web", title="Bulk", rationale="r", feedback=[planned.id]
    )

    # A staging deploy mentioning everything ships nothing.
    commits = [
        Commit("a" * 40, day(5), f"Bulk edit ({dec.key})"),
        Commit("b" * 40, day(5), f"fix typo, closes {dupe.key}"),
    ]
    staging = await s.record_increment(
        store,
        service="web",
        environment="staging",
        commit_sha="b" * 40,
        commits=commits,
        started_at=day(6),
        finished_at=day(6),
    )
    assert staging.shipped == s.Shipped()
    assert staging.decision_refs == ("DEC-1",)

    # A production deploy while the decision is only proposed ships the directly
    # referenced item, through its duplicate, to the root.
    first = await s.record_increment(
        store,
        service="web",
        environment="Production",
        commit_sha="b" * 40,
        commits=commits,
        started_at=day(7),
        finished_at=day(7) + timedelta(minutes=3),
        external_ref="run-1",
    )
    assert first.shipped == s.Shipped(decisions=(), feedback=(direct.key or "",))
    assert (await s.get_feedback(store, planned.id)).status == "triaged"

    # The same run reported again records nothing and ships nothing.
    events = len(store.all_events())
    again = await s.record_increment(
        store,
        service="web",
        environment="production",
        commit_sha="b" * 40,
        commits=commits,
        external_ref="run-1",
    )
    assert again.id == first.id
    assert not again.created
    assert len(store.all_events()) == events

    # Once accepted, the next production deploy ships the decision and its planned item,
    # and the already-shipped item is left alone.
    await s.accept_decision(store, dec.id)
    second = await s.record_increment(
        store,
        service="web",
        environment="prod",
        commit_sha="b" * 40,
        commits=commits,
        started_at=day(8),
        finished_at=day(8),
    )
    assert second.shipped == s.Shipped(decisions=("DEC-1",), feedback=(planned.key or "",))
    assert (await s.get_feedback(store, direct.id)).shipped_by == (first.id,)

    # A failed production deploy ships nothing; then it is rolled back.
    failed = await s.record_increment(
        store,
        service="web",
        environment="production",
        release_version="2.0.1",
        succeeded=False,
        texts=["FB-99 and DEC-42 do not exist"],
    )
    assert failed.shipped == s.Shipped()
    await s.roll_back_increment(store, failed.id, reason="bad migration")
    assert (await s.get_increment(store, failed.id)).status == "rolled_back"
    with pytest.raises(InvalidTransition, match="rolled_back"):
        await s.mark_increment_failed(store, failed.id)


async def test_production_environments_are_a_parameter(store: InMemoryEventStore) -> None:
    await s.form_team(store, slug="web", name="Web", formed_at=day(0))
    item = await s.receive_feedback(store, channel="web", text="x", received_at=day(1))

    # With "live" named as production, a deploy to "live" ships.
    done = await s.record_increment(
        store,
        service="web",
        environment="live",
        release_version="1.0",
        texts=[item.key or ""],
        production=("live",),
    )
    assert done.shipped.feedback == (item.key,)


async def test_an_increment_needs_a_version_or_sha_and_ordered_times(
    store: InMemoryEventStore,
) -> None:
    with pytest.raises(ValidationError, match="version"):
        await s.record_increment(store, service="web", environment="production")
    with pytest.raises(ValidationError, match="finished_at"):
        await s.record_increment(
            store,
            service="web",
            environment="production",
            release_version="1",
            started_at=day(2),
            finished_at=day(1),
        )


async def test_an_incident_opens_is_attributed_and_resolves(store: InMemoryEventStore) -> None:
    deploy = await s.record_increment(
        store,
        service="api",
        environment="production",
        release_version="3.1",
        started_at=day(1),
        finished_at=day(1),
    )

    # Monitoring opens an incident; the same alert again is the same incident.
    opened = await s.open_incident(
        store,
        service="api",
        title="5xx spike",
        opened_at=day(1) + timedelta(hours=1),
        external_ref="pd-77",
    )
    again = await s.open_incident(store, service="api", title="5xx spike", external_ref="pd-77")
    assert again.id == opened.id
    assert not again.created

    # The cause is found, then the incident is resolved.
    await s.attribute_incident_cause(store, opened.id, caused_by_increment=deploy.id)
    await s.resolve_incident(store, opened.id, resolved_at=day(1) + timedelta(hours=3))
    view = await s.get_incident(store, opened.id)
    assert view.status == "resolved"
    assert view.caused_by_increment_id == deploy.id

    # It cannot be resolved twice, nor before it opened.
    with pytest.raises(InvalidTransition, match="resolved"):
        await s.resolve_incident(store, opened.id)
    other = await s.open_incident(store, service="api", title="slow", opened_at=day(2))
    with pytest.raises(ValidationError, match="resolved_at"):
        await s.resolve_incident(store, other.id, resolved_at=day(1))


async def test_an_increment_rolls_back_earlier_ones_of_its_service(
    store: InMemoryEventStore,
) -> None:
    # Two deployments of the api, the second named by its own reference.
    first = await s.record_increment(
        store, service="api", environment="production", commit_sha="a" * 40, finished_at=day(2)
    )
    second = await s.record_increment(
        store,
        service="api",
        environment="production",
        commit_sha="b" * 40,
        finished_at=day(2) + timedelta(hours=1),
        external_ref="deploy-2",
    )
    # A third puts the first one's commit back, naming the second by its reference.
    rollback = await s.record_increment(
        store,
        service="api",
        environment="production",
        commit_sha="a" * 40,
        finished_at=day(2) + timedelta(hours=2),
        rolls_back=["deploy-2"],
    )
    rolled = await s.get_increment(store, second.id)
    assert rolled.status == "rolled_back"
    assert rolled.reason == f"rolled back by increment {rollback.id}"
    assert (await s.get_increment(store, first.id)).status == "succeeded"

    # Naming it again is no change; another service's increment, itself, an increment that
    # finished later, or one never recorded cannot be rolled back by it.
    again = await s.record_increment(
        store,
        service="api",
        environment="production",
        commit_sha="c" * 40,
        finished_at=day(3),
        rolls_back=[second.id],
    )
    assert again.created
    other = await s.record_increment(
        store, service="web", environment="production", commit_sha="d" * 40, finished_at=day(2)
    )
    with pytest.raises(ValidationError, match="rolls_back"):
        await s.record_increment(
            store,
            service="api",
            environment="production",
            commit_sha="e" * 40,
            finished_at=day(4),
            rolls_back=[other.id],
        )
    with pytest.raises(ValidationError, match="rolls_back"):
        await s.record_increment(
            store,
            service="api",
            environment="production",
            commit_sha="f" * 40,
            finished_at=day(1),
            rolls_back=[first.id],
        )
    with pytest.raises(IncrementNotFound):
        await s.record_increment(
            store,
            service="api",
            environment="production",
            commit_sha="1" * 40,
            finished_at=day(5),
            rolls_back=["deploy-404"],
        )
