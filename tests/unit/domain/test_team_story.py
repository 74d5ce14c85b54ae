from __future__ import annotations

import pytest

from domain import services as s
from domain.errors import ConcurrencyConflict, ValidationError
from domain.index import KeyTaken
from domain.memory import InMemoryEventStore
from domain.team import AlreadyMember, MemberNotFound, TeamNotFound
from tests.unit.domain.times import day


async def test_a_team_forms_grows_and_owns_what_it_ships(store: InMemoryEventStore) -> None:
    # The billing team forms with a unique slug.
    formed = await s.form_team(store, slug="billing", name="Billing", formed_at=day(0))
    assert formed.created
    assert formed.key == "billing"
    assert formed.version == 1

    # A second team cannot take the same slug.
    with pytest.raises(KeyTaken):
        await s.form_team(store, slug="billing", name="Other billing")

    # People join, described by handle and skills, not titles.
    await s.add_member(store, "billing", handle="ana", skills=["python", "ux"], joined_at=day(1))
    await s.add_member(store, formed.id, handle="bo", skills=["sql"], joined_at=day(1))
    with pytest.raises(AlreadyMember):
        await s.add_member(store, "billing", handle="ana")
    await s.change_member_skills(store, "billing", handle="bo", skills=["sql", "go"])

    # Someone leaves; leaving twice is refused.
    await s.remove_member(store, "billing", handle="ana", left_at=day(2))
    with pytest.raises(MemberNotFound):
        await s.remove_member(store, "billing", handle="ana")

    # The team owns its service; repository names are case-insensitive.
    await s.own_repository(store, "billing", repository="Acme/Billing-API", owned_at=day(3))
    assert await s.team_owning(store, "acme/billing-api") == formed.id

    # Owning it again changes nothing.
    again = await s.own_repository(store, "billing", repository="acme/billing-api")
    assert again.position is None

    # Another team cannot own the same repository...
    payments = await s.form_team(store, slug="payments", name="Payments")
    with pytest.raises(KeyTaken):
        await s.own_repository(store, payments.id, repository="acme/billing-api")

    # ...until billing lets it go.
    await s.disown_repository(store, "billing", repository="acme/billing-api")
    assert await s.team_owning(store, "acme/billing-api") is None
    await s.own_repository(store, "payments", repository="acme/billing-api")
    assert await s.team_owning(store, "acme/billing-api") == payments.id

    # Renaming keeps the slug.
    await s.rename_team(store, "billing", name="Billing & Invoices")
    view = await s.get_team(store, "billing")
    assert view.name == "Billing & Invoices"
    assert [m.handle for m in view.members] == ["bo"]
    assert view.members[0].skills == ("sql", "go")
    assert view.repositories == ()


async def test_a_team_adopts_and_drops_outcomes(store: InMemoryEventStore) -> None:
    # A team and an outcome exist.
    team = await s.form_team(store, slug="support-tools", name="Support tools")
    outcome = await s.define_outcome(
        store,
        statement="Customers resolve billing questions without calling us",
        measure="billing calls per week",
        target="-30% by Q3",
    )

    # The team adopts it: both sides know.
    await s.adopt_outcome(store, "support-tools", outcome_id=outcome.id)
    assert (await s.get_team(store, team.id)).outcome_ids == (outcome.id,)
    assert (await s.get_outcome(store, outcome.id)).team_ids == (team.id,)

    # And drops it again.
    await s.drop_outcome(store, "support-tools", outcome_id=outcome.id)
    assert (await s.get_team(store, team.id)).outcome_ids == ()
    assert (await s.get_outcome(store, outcome.id)).team_ids == ()


async def test_team_validation_and_lookup(store: InMemoryEventStore) -> None:
    # Slugs are lowercase words joined by hyphens.
    with pytest.raises(ValidationError) as caught:
        await s.form_team(store, slug="Bad Slug!", name="x")
    assert caught.value.field == "slug"

    # Unknown teams are a not-found error, by slug and by id.
    with pytest.raises(TeamNotFound):
        await s.get_team(store, "nobody")

    # A stale expected version is a conflict that says the current one.
    team = await s.form_team(store, slug="core", name="Core")
    await s.rename_team(store, "core", name="Core platform", expected_version=team.version)
    with pytest.raises(ConcurrencyConflict) as conflict:
        await s.rename_team(store, "core", name="Core", expected_version=team.version)
    assert conflict.value.current_version == 2
