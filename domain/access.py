"""Who may do what: the acting principal, and the one error a refusal raises.

Roles: an admin and a product manager act on everything; a member acts on the feedback and
decisions of its own teams (and on items no team has taken yet), reads everything, and may
mark its own item as a duplicate of any item. Application services check these rules right
after they load the aggregate they act on; docs/api.md lists them as a table.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from uuid import UUID

import msgspec

from domain.errors import DomainError


class Role(StrEnum):
    """What a token may do (see the module docstring)."""

    ADMIN = "admin"
    PRODUCT = "product"
    MEMBER = "member"


#: Roles that manage the organisation: teams, outcomes, integrations, every team's work.
MANAGERS = frozenset({Role.ADMIN, Role.PRODUCT})


class NotPermitted(DomainError):
    """Raised when the acting principal's role or teams do not allow the action."""


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who acts: a role, the teams a member acts for, and a name for the record."""

    role: Role
    team_ids: frozenset[UUID] = frozenset()
    name: str | None = None

    @property
    def manages(self) -> bool:
        """Whether the actor acts for every team (admin, product)."""
        return self.role in MANAGERS

    def check_role(self, allowed: Iterable[Role], *, action: str) -> None:
        """Raise `NotPermitted` unless the actor's role is one of `allowed`."""
        roles = tuple(allowed)
        if self.role not in roles:
            needs = " or ".join(sorted(roles))
            raise NotPermitted(f"a {self.role} token may not {action}; needs {needs}")

    def acts_for(self, team_id: UUID | None) -> bool:
        """Whether the actor may act on a thing of `team_id` (None: no team has it yet)."""
        return self.manages or team_id is None or team_id in self.team_ids

    def check_team(self, team_id: UUID | None, *, what: str) -> None:
        """Raise `NotPermitted` unless the actor acts for the team `what` belongs to."""
        if not self.acts_for(team_id):
            raise NotPermitted(f"{what} belongs to a team this token does not act for")

    def check_acts_for_team(self, team_id: UUID, slug: str) -> None:
        """Raise `NotPermitted` unless the actor acts for team `slug` itself (a thing it
        would give to or make for that team)."""
        if not self.acts_for(team_id):
            raise NotPermitted(f"this token does not act for team {slug}")

    def check_owned(self, team_id: UUID | None, *, what: str) -> None:
        """Like `check_team`, but a thing no team owns is refused to members (a member
        reports only the delivery of services its teams own)."""
        if not self.manages and team_id is None:
            raise NotPermitted(f"no team owns {what}; a member token acts only for its teams")
        self.check_team(team_id, what=what)


#: Loopline acting on its own behalf: imports, the demo, verified webhook deliveries.
SYSTEM = Actor(role=Role.ADMIN, name=None)
