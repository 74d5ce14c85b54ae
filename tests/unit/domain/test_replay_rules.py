"""History stored under looser input rules still loads: a command checks its input before it
records an event, and replaying stored events runs only the state rules, for every aggregate
(issue 14: a limit tightened later must not make old items unloadable)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import get_topic

from domain.common import MAX_NAME, MAX_TEXT, MAX_TITLE
from domain.errors import ValidationError
from domain.incident import Incident
from domain.increment import Increment
from domain.outcome import Outcome
from domain.pull_request import PullRequest
from domain.team import Team
from tests.unit.domain.times import day

TOO_LONG = "x" * (MAX_TEXT * 10 + 1)


def event_of(aggregate: type, name: str) -> Any:
    """The event class `@event(name)` made on `aggregate`."""
    return getattr(aggregate, name)


def stored(event_class: Any, aggregate_id: UUID, version: int, **fields: Any) -> Any:
    """An event as an older release stored it (its values were fine by that release)."""
    return event_class(
        originator_id=aggregate_id,
        originator_version=version,
        timestamp=event_class.create_timestamp(),
        **fields,
    )


def replayed(*events: Any) -> Any:
    """The aggregate the stored `events` make, as loading it does."""
    aggregate: Any = None
    for e in events:
        aggregate = e.mutate(aggregate)
    return aggregate


def created(aggregate: Any) -> Any:
    [event] = aggregate.collect_events()
    return event


def test_a_team_renamed_and_joined_beyond_todays_limits_loads() -> None:
    # A team formed today; a later rename and a member stored under looser limits.
    team = Team(slug="ops", name="Ops", formed_at=day(0))
    renamed = stored(
        event_of(Team, "Renamed"), team.id, 2, name="n" * (MAX_NAME + 1), renamed_at=day(1)
    )
    joined = stored(
        event_of(Team, "MemberJoined"),
        team.id,
        3,
        handle="Not A Handle!",
        skills=(),
        joined_at=day(1),
    )
    # Loading replays them as they were.
    loaded = replayed(created(team), renamed, joined)
    assert loaded.name == "n" * (MAX_NAME + 1)
    assert "Not A Handle!" in loaded.members
    # Today's commands still refuse such input.
    with pytest.raises(ValidationError):
        loaded.rename("n" * (MAX_NAME + 1), day(2))


def test_an_outcome_retired_with_a_long_reason_loads() -> None:
    outcome = Outcome(statement="Fewer calls", measure="calls/week", target=None, defined_at=day(0))
    retired = stored(
        event_of(Outcome, "Retired"), outcome.id, 2, reason=TOO_LONG, retired_at=day(1)
    )

    loaded = replayed(created(outcome), retired)

    assert loaded.retired_reason == TOO_LONG


def test_an_incident_and_an_increment_with_long_reasons_load() -> None:
    incident = Incident(
        service="acme/jobs",
        title="Down",
        opened_at=day(1),
        caused_by_sha=None,
        caused_by_increment_id=None,
        external_ref=None,
    )
    resolved = stored(
        event_of(Incident, "Resolved"), incident.id, 2, resolution=TOO_LONG, resolved_at=day(2)
    )
    increment = Increment(
        service="acme/jobs",
        environment="production",
        release_version="1",
        commit_sha=None,
        started_at=day(0),
        finished_at=day(0),
        succeeded=True,
        commits=(),
        feedback_refs=(),
        decision_refs=(),
        external_ref=None,
    )
    failed = stored(
        event_of(Increment, "MarkedFailed"), increment.id, 2, reason=TOO_LONG, failed_at=day(1)
    )
    rolled_back = stored(
        event_of(Increment, "RolledBack"), increment.id, 3, reason=TOO_LONG, rolled_back_at=day(2)
    )

    assert replayed(created(incident), resolved).resolution == TOO_LONG
    assert replayed(created(increment), failed, rolled_back).reason == TOO_LONG


def test_a_pull_request_merged_with_a_long_title_loads() -> None:
    merged = stored(
        event_of(PullRequest, "Merged"),
        uuid4(),
        1,
        originator_topic=get_topic(PullRequest),
        service="acme/jobs",
        ref="github:pull_request:1",
        title="t" * (MAX_TITLE + 1),
        first_commit_at=None,
        opened_at=day(0),
        merged_at=day(1),
        merge_sha="abcdef1",
    )

    assert replayed(merged).title == "t" * (MAX_TITLE + 1)
