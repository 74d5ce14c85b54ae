from __future__ import annotations

import pytest

from domain import services as s
from domain.errors import InvalidTransition, ValidationError
from domain.memory import InMemoryEventStore
from domain.outcome import OutcomeNotFound
from tests.unit.domain.times import day


async def test_an_outcome_is_defined_revised_aligned_and_retired(
    store: InMemoryEventStore,
) -> None:
    # An outcome is defined with how it is measured.
    outcome = await s.define_outcome(
        store, statement="Onboarding takes one sitting", measure="median minutes to first invoice"
    )

    # It is revised to add a target.
    await s.revise_outcome(
        store,
        outcome.id,
        statement="Onboarding takes one sitting",
        measure="median minutes to first invoice",
        target="under 20 minutes",
        expected_version=outcome.version,
    )

    # A team aligns to it.
    team = await s.form_team(store, slug="onboarding", name="Onboarding", formed_at=day(0))
    aligned = await s.align_team(store, outcome.id, team="onboarding")
    assert aligned.position is not None
    view = await s.get_outcome(store, outcome.id)
    assert view.target == "under 20 minutes"
    assert view.team_ids == (team.id,)

    # It is retired; a retired outcome is not revised any more.
    await s.retire_outcome(store, outcome.id, reason="reached and kept for a year")
    with pytest.raises(InvalidTransition) as caught:
        await s.revise_outcome(store, outcome.id, statement="x", measure="y")
    assert "retired" in str(caught.value)
    assert "revise" in str(caught.value)


async def test_outcome_validation(store: InMemoryEventStore) -> None:
    # Statements cannot be empty.
    with pytest.raises(ValidationError):
        await s.define_outcome(store, statement="  ", measure="m")

    # Triage refuses an outcome that does not exist.
    with pytest.raises(OutcomeNotFound):
        await s.get_outcome(store, (await s.form_team(store, slug="t", name="T")).id)
