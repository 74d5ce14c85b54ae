"""Team: a self-organising, cross-functional product team and what it owns."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.common import (
    MAX_NAME,
    MAX_TAG,
    MAX_TAGS,
    check_slug,
    check_text,
    check_when,
)
from domain.errors import DomainError, NotFound, ValidationError

_REPOSITORY = re.compile(r"^[a-z0-9][a-z0-9._/-]*$")


class TeamNotFound(NotFound):
    """Raised when no team has the given id or slug."""


class MemberNotFound(DomainError):
    """Raised when a handle is not a member of the team."""


class AlreadyMember(DomainError):
    """Raised when a handle joins a team it is already a member of."""


class NotOwned(DomainError):
    """Raised when a team disowns a repository or drops an outcome it does not have."""


def check_handle(handle: str) -> None:
    """Raise `ValidationError` unless `handle` is a short name without spaces."""
    check_text("handle", handle, max_length=64)
    if any(c.isspace() for c in handle):
        raise ValidationError("handle", "must not contain spaces")


def check_skills(skills: tuple[str, ...]) -> None:
    """Raise `ValidationError` unless `skills` is a tuple of short, distinct names."""
    if not isinstance(skills, tuple) or len(skills) > MAX_TAGS:
        raise ValidationError("skills", f"must be a tuple of at most {MAX_TAGS} skills")
    if len(set(skills)) != len(skills):
        raise ValidationError("skills", "must not repeat a skill")
    for skill in skills:
        check_text("skills", skill, max_length=MAX_TAG)


def check_repository(name: str) -> None:
    """Raise `ValidationError` unless `name` is a lowercase repository or service name."""
    check_text("repository", name, max_length=MAX_NAME * 2)
    if not _REPOSITORY.match(name):
        raise ValidationError("repository", "must be lowercase, e.g. 'acme/billing-api'")


def normalize_repository(name: str) -> str:
    """The stored form of a repository or service name (stripped, lowercase)."""
    return name.strip().lower()


class Team(Aggregate):
    """A product team: unique slug, name, members (handle and skills), outcomes, repositories.

    As with `Feedback`, command methods check their input and then record an event; the
    `@event` bodies hold only the state rules, because they run again on every load.
    """

    @classmethod
    def form(cls, *, slug: str, name: str, formed_at: datetime) -> Team:
        """A newly formed team, its input checked."""
        check_slug("slug", slug)
        check_text("name", name, max_length=MAX_NAME)
        check_when("formed_at", formed_at)
        return cls(slug=slug, name=name, formed_at=formed_at)

    @event("Formed")
    def __init__(self, slug: str, name: str, formed_at: datetime) -> None:
        self.slug = slug
        self.name = name
        self.formed_at = formed_at
        self.members: dict[str, tuple[str, ...]] = {}
        self.outcome_ids: tuple[UUID, ...] = ()
        self.repositories: tuple[str, ...] = ()

    def rename(self, name: str, renamed_at: datetime) -> None:
        check_text("name", name, max_length=MAX_NAME)
        check_when("renamed_at", renamed_at)
        self._rename(name=name, renamed_at=renamed_at)

    @event("Renamed")
    def _rename(self, name: str, renamed_at: datetime) -> None:
        self.name = name

    def check_member(self, handle: str) -> None:
        """Raise `MemberNotFound` unless `handle` is a member."""
        if handle not in self.members:
            raise MemberNotFound(f"{handle!r} is not a member of team {self.slug}")

    def join(self, handle: str, skills: tuple[str, ...], joined_at: datetime) -> None:
        check_handle(handle)
        check_skills(skills)
        check_when("joined_at", joined_at)
        self._join(handle=handle, skills=skills, joined_at=joined_at)

    @event("MemberJoined")
    def _join(self, handle: str, skills: tuple[str, ...], joined_at: datetime) -> None:
        if handle in self.members:
            raise AlreadyMember(f"{handle!r} is already a member of team {self.slug}")
        self.members[handle] = skills

    def change_skills(self, handle: str, skills: tuple[str, ...], changed_at: datetime) -> None:
        check_skills(skills)
        check_when("changed_at", changed_at)
        self._change_skills(handle=handle, skills=skills, changed_at=changed_at)

    @event("MemberSkillsChanged")
    def _change_skills(self, handle: str, skills: tuple[str, ...], changed_at: datetime) -> None:
        self.check_member(handle)
        self.members[handle] = skills

    def leave(self, handle: str, left_at: datetime) -> None:
        check_when("left_at", left_at)
        self._leave(handle=handle, left_at=left_at)

    @event("MemberLeft")
    def _leave(self, handle: str, left_at: datetime) -> None:
        self.check_member(handle)
        del self.members[handle]

    def adopt_outcome(self, outcome_id: UUID, adopted_at: datetime) -> None:
        check_when("adopted_at", adopted_at)
        self._adopt_outcome(outcome_id=outcome_id, adopted_at=adopted_at)

    @event("OutcomeAdopted")
    def _adopt_outcome(self, outcome_id: UUID, adopted_at: datetime) -> None:
        if outcome_id not in self.outcome_ids:
            self.outcome_ids = (*self.outcome_ids, outcome_id)

    def drop_outcome(self, outcome_id: UUID, dropped_at: datetime) -> None:
        check_when("dropped_at", dropped_at)
        self._drop_outcome(outcome_id=outcome_id, dropped_at=dropped_at)

    @event("OutcomeDropped")
    def _drop_outcome(self, outcome_id: UUID, dropped_at: datetime) -> None:
        if outcome_id not in self.outcome_ids:
            raise NotOwned(f"team {self.slug} has not adopted outcome {outcome_id}")
        self.outcome_ids = tuple(o for o in self.outcome_ids if o != outcome_id)

    def own(self, repository: str, owned_at: datetime) -> None:
        check_repository(repository)
        check_when("owned_at", owned_at)
        self._own(repository=repository, owned_at=owned_at)

    @event("RepositoryOwned")
    def _own(self, repository: str, owned_at: datetime) -> None:
        if repository not in self.repositories:
            self.repositories = (*self.repositories, repository)

    def disown(self, repository: str, disowned_at: datetime) -> None:
        check_when("disowned_at", disowned_at)
        self._disown(repository=repository, disowned_at=disowned_at)

    @event("RepositoryDisowned")
    def _disown(self, repository: str, disowned_at: datetime) -> None:
        if repository not in self.repositories:
            raise NotOwned(f"team {self.slug} does not own {repository!r}")
        self.repositories = tuple(r for r in self.repositories if r != repository)
