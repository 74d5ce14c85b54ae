"""Index aggregates: uniqueness of natural keys, the event-sourcing way.

An index's id is `uuid5(NAMESPACE, "<kind>:<natural key>")`. It is created in the same
`save()` as the aggregate it points at, so two concurrent writers claiming the same key both
try to write version 1 of the same index and one of them fails with `ConcurrencyConflict`.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError

NAMESPACE = UUID("5b1f0c1e-6f4e-4a49-9a57-3c0b6f1d2e71")

#: Kinds of natural key.
TEAM_SLUG = "team-slug"
REPOSITORY = "repository"
FEEDBACK_SOURCE = "feedback-source"
HUMAN_KEY = "key"
INCREMENT = "increment"
INCIDENT = "incident"
PULL_REQUEST = "pull-request"


class KeyTaken(DomainError):
    """Raised when a natural key already points at another aggregate."""

    def __init__(self, kind: str, key: str, target_id: UUID | None) -> None:
        super().__init__(f"{kind} {key!r} is already taken")
        self.kind = kind
        self.key = key
        self.target_id = target_id


def index_id(kind: str, key: str) -> UUID:
    """The id of the index aggregate for a natural key."""
    return uuid5(NAMESPACE, f"{kind}:{key}")


class Index(Aggregate):
    """Points one natural key at at most one aggregate (the target)."""

    @staticmethod
    def create_id(kind: str, key: str) -> UUID:
        return index_id(kind, key)

    @event("Registered")
    def __init__(self, kind: str, key: str, target_id: UUID, registered_at: datetime) -> None:
        self.kind = kind
        self.key = key
        self.target_id: UUID | None = target_id
        self.registered_at = registered_at

    def check_free_for(self, target_id: UUID) -> None:
        """Raise `KeyTaken` when the key points at an aggregate other than `target_id`."""
        if self.target_id is not None and self.target_id != target_id:
            raise KeyTaken(self.kind, self.key, self.target_id)

    @event("Claimed")
    def claim(self, target_id: UUID, claimed_at: datetime) -> None:
        self.check_free_for(target_id)
        self.target_id = target_id

    @event("Released")
    def release(self, released_at: datetime) -> None:
        self.target_id = None
