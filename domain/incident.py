"""Incident: a production failure, from opened to resolved, and the increment that caused it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.common import (
    MAX_NAME,
    MAX_TEXT,
    MAX_TITLE,
    check_optional_text,
    check_order,
    check_text,
    check_when,
)
from domain.errors import InvalidTransition, NotFound
from domain.increment import check_sha
from domain.vocabulary import IncidentStatus


class IncidentNotFound(NotFound):
    """Raised when no incident has the given id."""


class Incident(Aggregate):
    """A failure in production of one service.

    Command methods check their input, `@event` bodies hold only the state rules.
    """

    @classmethod
    def open(
        cls,
        *,
        service: str,
        title: str,
        opened_at: datetime,
        caused_by_sha: str | None,
        caused_by_increment_id: UUID | None,
        external_ref: str | None,
    ) -> Incident:
        """A newly opened incident, its input checked."""
        check_text("service", service, max_length=MAX_NAME * 2)
        check_text("title", title, max_length=MAX_TITLE)
        check_when("opened_at", opened_at)
        if caused_by_sha is not None:
            check_sha("caused_by_sha", caused_by_sha)
        check_optional_text("external_ref", external_ref, max_length=MAX_NAME * 2)
        return cls(
            service=service,
            title=title,
            opened_at=opened_at,
            caused_by_sha=caused_by_sha,
            caused_by_increment_id=caused_by_increment_id,
            external_ref=external_ref,
        )

    @event("Opened")
    def __init__(
        self,
        service: str,
        title: str,
        opened_at: datetime,
        caused_by_sha: str | None,
        caused_by_increment_id: UUID | None,
        external_ref: str | None,
    ) -> None:
        self.service = service
        self.title = title
        self.opened_at = opened_at
        self.caused_by_sha = caused_by_sha
        self.caused_by_increment_id = caused_by_increment_id
        self.external_ref = external_ref
        self.status = IncidentStatus.OPEN
        self.resolved_at: datetime | None = None
        self.resolution: str | None = None

    def attribute_cause(
        self,
        caused_by_sha: str | None,
        caused_by_increment_id: UUID | None,
        attributed_at: datetime,
    ) -> None:
        if caused_by_sha is not None:
            check_sha("caused_by_sha", caused_by_sha)
        check_when("attributed_at", attributed_at)
        self._attribute_cause(
            caused_by_sha=caused_by_sha,
            caused_by_increment_id=caused_by_increment_id,
            attributed_at=attributed_at,
        )

    @event("CauseAttributed")
    def _attribute_cause(
        self,
        caused_by_sha: str | None,
        caused_by_increment_id: UUID | None,
        attributed_at: datetime,
    ) -> None:
        self.caused_by_sha = caused_by_sha
        self.caused_by_increment_id = caused_by_increment_id

    def resolve(self, resolution: str | None, resolved_at: datetime) -> None:
        check_optional_text("resolution", resolution, max_length=MAX_TEXT)
        check_when("resolved_at", resolved_at)
        check_order("resolved_at", self.opened_at, resolved_at)
        self._resolve(resolution=resolution, resolved_at=resolved_at)

    @event("Resolved")
    def _resolve(self, resolution: str | None, resolved_at: datetime) -> None:
        if self.status != IncidentStatus.OPEN:
            raise InvalidTransition("incident", self.status, "resolve")
        self.status = IncidentStatus.RESOLVED
        self.resolved_at = resolved_at
        self.resolution = resolution
