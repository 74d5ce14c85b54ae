"""Generic deliveries (any CI/CD tool, signed the Standard Webhooks way): the documented body.

```json
{"type": "deployment", "id": "deploy-4711", "repository": "acme/billing",
 "environment": "production", "status": "success", "commit_sha": "9fceb02…",
 "release_version": "2024.5.1",
 "started_at": "2024-05-01T10:00:00Z", "finished_at": "2024-05-01T10:04:00Z",
 "commits": [{"sha": "9fceb02…", "authored_at": "2024-04-30T16:00:00Z", "message": "…"}],
 "references": ["branch fb-12-export-timeout"], "rollback_of": ["deploy-4710"]}
{"type": "incident", "id": "INC-22", "repository": "acme/billing", "action": "opened",
 "title": "Exports fail", "opened_at": "…", "resolved_at": "…", "caused_by_sha": "9fceb02…"}
```
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from domain.increment import Commit
from server.webhooks.actions import (
    Action,
    Deployment,
    Ignore,
    IncidentOpened,
    IncidentResolved,
    PayloadError,
    field,
    sha,
    text,
)
from server.webhooks.integrations import Integration, normalize

HEADERS = ("webhook-id", "webhook-timestamp", "user-agent", "content-type")
_MAX_REF = 200


class GenericCommit(msgspec.Struct, frozen=True):
    sha: str
    authored_at: datetime
    message: str = ""


class GenericDeployment(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["deployment"]
    id: str
    status: Literal["success", "failure"]
    finished_at: datetime
    repository: str | None = None
    service: str | None = None
    environment: str = "production"
    commit_sha: str | None = None
    """The deployed commit, named as an increment names it (`IncrementCreate`, `Increment`)."""
    sha: str | None = None
    """`commit_sha`'s earlier name, still read: deliveries stored with it map again."""
    release_version: str | None = None
    version: str | None = None
    """`release_version`'s earlier name, still read, as `sha`."""
    started_at: datetime | None = None
    commits: list[GenericCommit] = msgspec.field(default_factory=list)
    references: list[str] = msgspec.field(default_factory=list)
    rollback_of: list[str] = msgspec.field(default_factory=list)
    """The sender's `id`s of earlier deployments of the repository this one rolls back."""


class GenericIncident(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["incident"]
    id: str
    action: Literal["opened", "resolved"]
    title: str
    opened_at: datetime
    repository: str | None = None
    service: str | None = None
    resolved_at: datetime | None = None
    caused_by_sha: str | None = None
    resolution: str | None = None


def repository_of(payload: Any) -> str | None:
    return text(payload, "repository") or text(payload, "service")


def event_of(payload: Any) -> str:
    kind = field(payload, "type")
    return kind if isinstance(kind, str) and kind else "unknown"


def _ref(repository: str, sender_id: str) -> str:
    """The natural key of a sender's `id`: the repository compares as teams own it
    (`ACME/svc-a ` is `acme/svc-a`), the id whole (hashed whole when long)."""
    ref = f"generic:{normalize(repository)}:{sender_id}"
    if len(ref) <= _MAX_REF:
        return ref
    return "generic:" + hashlib.sha256(ref.encode()).hexdigest()


def interpret(event: str, payload: Any, config: Integration) -> Action:
    """What a verified generic delivery means; `type` says which body it is."""
    try:
        if event == "deployment":
            return _deployment(msgspec.convert(payload, GenericDeployment), config)
        if event == "incident":
            return _incident(msgspec.convert(payload, GenericIncident))
    except msgspec.ValidationError as error:
        raise PayloadError(
            f"the {event} body does not match the documented shape: {error}"
        ) from None
    return Ignore(f"generic type {event!r} is not one Loopline maps (deployment, incident)")


def _deployment(body: GenericDeployment, config: Integration) -> Action:
    repository = body.repository or body.service
    if repository is None:
        raise PayloadError("a deployment names its repository (or service)")
    if body.environment.lower() not in config.production_environments:
        return Ignore(
            f"deployment to {body.environment!r}, not a production environment "
            f"({', '.join(config.production_environments)})"
        )
    given = body.commit_sha or body.sha
    if body.commit_sha and body.sha and body.commit_sha != body.sha:
        raise PayloadError("commit_sha and sha (its earlier name) name different commits")
    head = sha(given) if given else None
    if body.release_version and body.version and body.release_version != body.version:
        raise PayloadError("release_version and version (its earlier name) name different releases")
    if given and head is None:
        raise PayloadError(f"commit_sha {given!r} is not a commit sha")
    commits = []
    for c in body.commits:
        commit_sha = sha(c.sha)
        if commit_sha is None:
            raise PayloadError(f"commit {c.sha!r} is not a commit sha")
        if c.authored_at.tzinfo is None:
            raise PayloadError(f"commit {c.sha}: authored_at needs a time zone")
        authored = c.authored_at.astimezone(UTC)
        commits.append(Commit(sha=commit_sha, authored_at=authored, message=c.message))
    ref = _ref(repository, body.id)
    return Deployment(
        repository=repository,
        environment=body.environment,
        succeeded=body.status == "success",
        external_ref=ref,
        deployment_key=ref,
        started_at=body.started_at or body.finished_at,
        finished_at=body.finished_at,
        commit_sha=head,
        release_version=body.release_version or body.version,
        commits=tuple({c.sha: c for c in commits}.values()),
        rolls_back=tuple(_ref(repository, earlier) for earlier in body.rollback_of),
        texts=tuple(body.references),
    )


def _incident(body: GenericIncident) -> Action:
    repository = body.repository or body.service
    if repository is None:
        raise PayloadError("an incident names its repository (or service)")
    ref = _ref(repository, body.id)
    if body.action == "opened":
        return IncidentOpened(
            repository=repository,
            title=body.title,
            opened_at=body.opened_at,
            external_ref=ref,
            caused_by_sha=sha(body.caused_by_sha) if body.caused_by_sha else None,
        )
    if body.resolved_at is None:
        raise PayloadError("a resolved incident says when: resolved_at")
    return IncidentResolved(
        repository=repository,
        title=body.title,
        opened_at=body.opened_at,
        resolved_at=body.resolved_at,
        external_ref=ref,
        resolution=body.resolution,
    )
