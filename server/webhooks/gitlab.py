"""GitLab deliveries: who sent them and what they mean."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.webhooks.actions import (
    ZERO_SHA,
    Action,
    Deployment,
    Ignore,
    IncidentOpened,
    IncidentResolved,
    Merge,
    Push,
    commit,
    distinct,
    field,
    required,
    sha,
    text,
    when,
)
from server.webhooks.integrations import Integration

HEADERS = (
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "x-gitlab-webhook-uuid",
    "x-gitlab-instance",
    "idempotency-key",
    "user-agent",
    "content-type",
)

_FAILED = {"failed"}


def repository_of(payload: Any) -> str | None:
    return text(payload, "project", "path_with_namespace")


def interpret(event: str, payload: Any, config: Integration) -> Action:
    """What a verified GitLab delivery means; dispatched on its `object_kind`."""
    kind = field(payload, "object_kind")
    handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        return Ignore(f"GitLab {event or kind!r} hooks are not ones Loopline maps")
    return handler(payload, config)


def _repository(payload: Any) -> str:
    return str(required(payload, "project", "path_with_namespace"))


def _push(payload: Any, config: Integration) -> Action:
    ref = text(payload, "ref") or "?"
    after = sha(field(payload, "after"))
    if after is None or after == ZERO_SHA:
        return Ignore(f"push deleted {ref}; no commits to record")
    commits = distinct(
        [
            commit(field(c, "id"), field(c, "timestamp"), field(c, "message"))
            for c in field(payload, "commits") or []
        ]
    )
    if not commits:
        return Ignore(f"push to {ref} carries no commits")
    return Push(
        repository=_repository(payload),
        before=sha(field(payload, "before")) or ZERO_SHA,
        after=after,
        pushed_at=max((c.authored_at for c in commits), default=datetime.now(UTC)),
        commits=commits,
    )


def _merge_request(payload: Any, config: Integration) -> Action:
    attributes = required(payload, "object_attributes")
    iid = field(attributes, "iid")
    merge_sha = sha(field(attributes, "merge_commit_sha")) or sha(
        field(attributes, "squash_commit_sha")
    )
    if field(attributes, "action") != "merge" and field(attributes, "state") != "merged":
        return Ignore(f"merge request !{iid} {field(attributes, 'action')}: only merges link")
    if merge_sha is None:
        return Ignore(f"merge request !{iid} names no merge commit")
    texts = (
        text(attributes, "title"),
        text(attributes, "description"),
        text(attributes, "source_branch"),
    )
    # A merge hook fires when the merge happens: its update time is the merge time.
    merged = text(attributes, "merged_at") or text(attributes, "updated_at")
    opened = text(attributes, "created_at")
    return Merge(
        repository=_repository(payload),
        merge_sha=merge_sha,
        origin=f"merge_request:{iid}",
        texts=tuple(t for t in texts if t),
        title=(text(attributes, "title") or "")[:200] or None,
        opened_at=when(opened, "created_at") if opened else None,
        merged_at=when(merged, "updated_at") if merged else None,
        head_sha=sha(field(attributes, "last_commit", "id")),
    )


def _deployment(payload: Any, config: Integration) -> Action:
    environment = str(required(payload, "environment"))
    production = (
        environment.lower() in config.production_environments
        or field(payload, "environment_tier") == "production"
    )
    if not production:
        return Ignore(
            f"deployment to {environment!r}, not a production environment "
            f"({', '.join(config.production_environments)})"
        )
    status = required(payload, "status")
    if status != "success" and status not in _FAILED:
        return Ignore(f"deployment status {status!r} is not final (success or failed)")
    commit_url = text(payload, "commit_url") or ""
    head = sha(commit_url.rsplit("/", 1)[-1]) or sha(field(payload, "short_sha"))
    deployment_id = required(payload, "deployment_id")
    changed = when(required(payload, "status_changed_at"), "status_changed_at")
    ref = text(payload, "ref")
    return Deployment(
        repository=_repository(payload),
        environment=environment,
        succeeded=status == "success",
        external_ref=f"gitlab:deployment:{deployment_id}:{status}",
        deployment_key=f"gitlab:deployment:{deployment_id}",
        started_at=changed,
        finished_at=changed,
        commit_sha=head,
        release_version=None if head else ref,
        texts=tuple(t for t in (ref, text(payload, "commit_title")) if t),
    )


def _pipeline(payload: Any, config: Integration) -> Action:
    attributes = required(payload, "object_attributes")
    name = text(attributes, "name") or text(attributes, "ref") or "?"
    if name not in config.deployment_workflows:
        return Ignore(f"pipeline {name!r} is not configured as a deployment")
    status = field(attributes, "status")
    if status != "success" and status not in _FAILED:
        return Ignore(f"pipeline status {status!r} is not final (success or failed)")
    pipeline_id = required(attributes, "id")
    created = when(required(attributes, "created_at"), "created_at")
    finished = text(attributes, "finished_at")
    return Deployment(
        repository=_repository(payload),
        environment=config.production_environments[0],
        succeeded=status == "success",
        external_ref=f"gitlab:pipeline:{pipeline_id}:{status}",
        deployment_key=f"gitlab:pipeline:{pipeline_id}",
        started_at=created,
        finished_at=when(finished) if finished else created,
        commit_sha=sha(required(attributes, "sha")),
        texts=tuple(t for t in (text(attributes, "ref"), text(payload, "commit", "title")) if t),
    )


def _labels(payload: Any) -> set[str]:
    labels = field(payload, "labels") or field(payload, "object_attributes", "labels") or []
    return {str(field(label, "title")).lower() for label in labels}


def _issue(payload: Any, config: Integration) -> Action:
    attributes = required(payload, "object_attributes")
    iid = field(attributes, "iid")
    incident = (
        config.incident_label in _labels(payload)
        or field(attributes, "issue_type") == "incident"
        or field(payload, "object_kind") == "incident"
    )
    if not incident:
        return Ignore(f"issue #{iid} is neither an incident nor labelled {config.incident_label!r}")
    repository = _repository(payload)
    ref = f"gitlab:issue:{required(attributes, 'id')}"
    title = str(required(attributes, "title"))[:200]
    opened = when(required(attributes, "created_at"), "created_at")
    action = field(attributes, "action")
    if action == "open":
        return IncidentOpened(
            repository=repository, title=title, opened_at=opened, external_ref=ref
        )
    if action == "close":
        closed = text(attributes, "closed_at") or required(attributes, "updated_at")
        return IncidentResolved(
            repository=repository,
            title=title,
            opened_at=opened,
            resolved_at=when(closed, "closed_at"),
            external_ref=ref,
            resolution=f"issue #{iid} closed",
        )
    return Ignore(f"issue #{iid} {action}: only opened and closed incidents count")


_HANDLERS = {
    "push": _push,
    "merge_request": _merge_request,
    "deployment": _deployment,
    "pipeline": _pipeline,
    "issue": _issue,
    "incident": _issue,
}
