"""Increment: a change shipped to an environment, the commits it carries and what they reference."""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate, event

from domain.common import (
    MAX_NAME,
    MAX_REASON,
    MAX_TEXT,
    check_optional_text,
    check_order,
    check_text,
    check_when,
)
from domain.errors import InvalidTransition, NotFound, ValidationError
from domain.vocabulary import IncrementStatus

#: Environments that count as production unless the caller says otherwise.
PRODUCTION_ENVIRONMENTS = ("production", "prod")

MAX_COMMITS = 10_000
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


class IncrementNotFound(NotFound):
    """Raised when no increment has the given id."""


class Commit(msgspec.Struct, frozen=True):
    """A commit an increment carries: its sha, when it was authored, its message."""

    sha: str
    authored_at: datetime
    message: str


def check_sha(field: str, sha: str) -> None:
    """Raise `ValidationError` unless `sha` is 7-64 lowercase hex digits."""
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise ValidationError(field, "must be 7 to 64 lowercase hex digits")


def check_commits(commits: tuple[Commit, ...]) -> None:
    """Raise `ValidationError` unless `commits` is a tuple of valid, distinct commits."""
    if not isinstance(commits, tuple) or len(commits) > MAX_COMMITS:
        raise ValidationError("commits", f"must be a tuple of at most {MAX_COMMITS} commits")
    shas = set()
    for commit in commits:
        if not isinstance(commit, Commit):
            raise ValidationError("commits", "must hold Commit values")
        check_sha("commits.sha", commit.sha)
        check_when("commits.authored_at", commit.authored_at)
        check_text("commits.message", commit.message, max_length=MAX_TEXT * 10, min_length=0)
        shas.add(commit.sha)
    if len(shas) != len(commits):
        raise ValidationError("commits", "must not repeat a commit")


class Increment(Aggregate):
    """A deployment or release of one service/repository to one environment.

    Command methods check their input, `@event` bodies hold only the state rules.
    """

    @classmethod
    def record(
        cls,
        *,
        service: str,
        environment: str,
        release_version: str | None,
        commit_sha: str | None,
        started_at: datetime,
        finished_at: datetime,
        succeeded: bool,
        commits: tuple[Commit, ...],
        feedback_refs: tuple[str, ...],
        decision_refs: tuple[str, ...],
        external_ref: str | None,
    ) -> Increment:
        """A newly recorded increment, its input checked."""
        check_text("service", service, max_length=MAX_NAME * 2)
        check_text("environment", environment, max_length=MAX_NAME)
        check_optional_text("release_version", release_version, max_length=MAX_NAME)
        if commit_sha is not None:
            check_sha("commit_sha", commit_sha)
        if release_version is None and commit_sha is None:
            raise ValidationError("release_version", "a version or a commit sha is needed")
        check_when("started_at", started_at)
        check_when("finished_at", finished_at)
        check_order("finished_at", started_at, finished_at)
        if not isinstance(succeeded, bool):
            raise ValidationError("succeeded", "must be true or false")
        check_commits(commits)
        check_optional_text("external_ref", external_ref, max_length=MAX_NAME * 2)
        return cls(
            service=service,
            environment=environment,
            release_version=release_version,
            commit_sha=commit_sha,
            started_at=started_at,
            finished_at=finished_at,
            succeeded=succeeded,
            commits=commits,
            feedback_refs=feedback_refs,
            decision_refs=decision_refs,
            external_ref=external_ref,
        )

    @event("Recorded")
    def __init__(
        self,
        service: str,
        environment: str,
        release_version: str | None,
        commit_sha: str | None,
        started_at: datetime,
        finished_at: datetime,
        succeeded: bool,
        commits: tuple[Commit, ...],
        feedback_refs: tuple[str, ...],
        decision_refs: tuple[str, ...],
        external_ref: str | None,
    ) -> None:
        self.service = service
        self.environment = environment
        self.release_version = release_version
        self.commit_sha = commit_sha
        self.started_at = started_at
        self.finished_at = finished_at
        self.commits = commits
        self.feedback_refs = feedback_refs
        self.decision_refs = decision_refs
        self.external_ref = external_ref
        self.status = IncrementStatus.SUCCEEDED if succeeded else IncrementStatus.FAILED
        self.reason: str | None = None

    def is_production(self, production: tuple[str, ...] = PRODUCTION_ENVIRONMENTS) -> bool:
        """Whether this increment went to an environment counted as production."""
        return self.environment.lower() in {p.lower() for p in production}

    def check_status(self, action: str, *allowed: str) -> None:
        """Raise `InvalidTransition` unless the increment is in one of the `allowed` statuses."""
        if self.status not in allowed:
            raise InvalidTransition("increment", self.status, action)

    def mark_failed(self, reason: str | None, failed_at: datetime) -> None:
        check_optional_text("reason", reason, max_length=MAX_REASON)
        check_when("failed_at", failed_at)
        self._mark_failed(reason=reason, failed_at=failed_at)

    @event("MarkedFailed")
    def _mark_failed(self, reason: str | None, failed_at: datetime) -> None:
        self.check_status("mark failed", IncrementStatus.SUCCEEDED)
        self.status = IncrementStatus.FAILED
        self.reason = reason

    def rolled_back_by(self, rollback: Increment) -> None:
        """A later increment (`rollback`) put back what ran before this one: this one is
        rolled back when the rollback finished."""
        if rollback.id == self.id:
            raise ValidationError("rolls_back", "an increment cannot roll itself back")
        if rollback.service != self.service:
            raise ValidationError(
                "rolls_back",
                f"increment {self.id} is of {self.service!r}, not {rollback.service!r}",
            )
        check_order("rolls_back", self.finished_at, rollback.finished_at)
        self._rolled_back_by(rollback_id=rollback.id, rolled_back_at=rollback.finished_at)

    @event("RolledBackBy")
    def _rolled_back_by(self, rollback_id: UUID, rolled_back_at: datetime) -> None:
        self.check_status("roll back", IncrementStatus.SUCCEEDED, IncrementStatus.FAILED)
        self.status = IncrementStatus.ROLLED_BACK
        self.reason = f"rolled back by increment {rollback_id}"

    def roll_back(self, reason: str | None, rolled_back_at: datetime) -> None:
        check_optional_text("reason", reason, max_length=MAX_REASON)
        check_when("rolled_back_at", rolled_back_at)
        check_order("rolled_back_at", self.started_at, rolled_back_at)
        self._roll_back(reason=reason, rolled_back_at=rolled_back_at)

    @event("RolledBack")
    def _roll_back(self, reason: str | None, rolled_back_at: datetime) -> None:
        self.check_status("roll back", IncrementStatus.SUCCEEDED, IncrementStatus.FAILED)
        self.status = IncrementStatus.ROLLED_BACK
        self.reason = reason
