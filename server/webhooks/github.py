"""GitHub deliveries: who sent them and what they mean."""

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

#: Headers kept with a stored delivery (never the signature).
HEADERS = ("x-github-event", "x-github-delivery", "x-github-hook-id", "user-agent", "content-type")

_FINAL_STATES = {"success": True, "failure": False, "error": False}
_FAILED_CONCLUSIONS = {"failure", "timed_out", "startup_failure"}


def repository_of(payload: Any) -> str | None:
    return text(payload, "repository", "full_name")


def interpret(event: str, payload: Any, config: Integration) -> Action:
    """What a verified GitHub delivery of `event` means for Loopline."""
    handler = _HANDLERS.get(event)
    if handler is None:
        return Ignore(f"GitHub event {event!r} is not one Loopline maps")
    return handler(payload, config)


def _ping(payload: Any, config: Integration) -> Action:
    return Ignore("ping: GitHub checked that the hook works")


def _is_production(environment: str, flagged: Any, config: Integration) -> bool:
    return environment.lower() in config.production_environments or flagged is True


def _deployment(payload: Any, config: Integration) -> Action:
    return Ignore("a deployment was created; its outcome arrives as deployment_status")


def _deployment_status(payload: Any, config: Integration) -> Action:
    repository = required(payload, "repository", "full_name")
    status = required(payload, "deployment_status")
    deployment = required(payload, "deployment")
    environment = text(status, "environment") or required(deployment, "environment")
    if not _is_production(environment, field(deployment, "production_environment"), config):
        return Ignore(
            f"deployment to {environment!r}, not a production environment "
            f"({', '.join(config.production_environments)})"
        )
    state = required(status, "state")
    if state not in _FINAL_STATES:
        return Ignore(f"deployment status {state!r} is not final (success, failure or error)")
    ref = text(deployment, "ref")
    return Deployment(
        repository=repository,
        environment=environment,
        succeeded=_FINAL_STATES[state],
        external_ref=f"github:deployment_status:{required(status, 'id')}",
        deployment_key=f"github:deployment:{required(deployment, 'id')}",
        started_at=when(required(deployment, "created_at"), "deployment.created_at"),
        finished_at=when(
            text(status, "updated_at") or required(status, "created_at"), "deployment_status"
        ),
        commit_sha=sha(field(deployment, "sha")),
        release_version=None if sha(field(deployment, "sha")) else ref,
        texts=tuple(t for t in (ref, text(deployment, "description")) if t),
    )


def _push(payload: Any, config: Integration) -> Action:
    ref = text(payload, "ref") or "?"
    if field(payload, "deleted") is True:
        return Ignore(f"push deleted {ref}; no commits to record")
    commits = distinct(
        [
            commit(field(c, "id"), field(c, "timestamp"), field(c, "message"))
            for c in field(payload, "commits") or []
        ]
    )
    if not commits:
        return Ignore(f"push to {ref} carries no commits")
    head = field(payload, "head_commit", "timestamp")
    return Push(
        repository=required(payload, "repository", "full_name"),
        before=sha(field(payload, "before")) or ZERO_SHA,
        after=sha(required(payload, "after")) or ZERO_SHA,
        pushed_at=when(head) if isinstance(head, str) else datetime.now(UTC),
        commits=commits,
    )


def _pull_request(payload: Any, config: Integration) -> Action:
    action = field(payload, "action")
    number = field(payload, "number") or field(payload, "pull_request", "number")
    pull = required(payload, "pull_request")
    if action != "closed":
        return Ignore(f"pull request #{number} {action}: only merged pull requests link")
    merge_sha = sha(field(pull, "merge_commit_sha"))
    if field(pull, "merged") is not True or merge_sha is None:
        return Ignore(f"pull request #{number} was closed without being merged")
    texts = (text(pull, "title"), text(pull, "body"), text(pull, "head", "ref"))
    opened, merged = text(pull, "created_at"), text(pull, "merged_at")
    return Merge(
        repository=required(payload, "repository", "full_name"),
        merge_sha=merge_sha,
        origin=f"pull_request:{number}",
        texts=tuple(t for t in texts if t),
        title=(text(pull, "title") or "")[:200] or None,
        # Without its times (GitHub always sends them) the merge still links its texts.
        opened_at=when(opened, "pull_request.created_at") if opened else None,
        merged_at=when(merged, "pull_request.merged_at") if merged else None,
        head_sha=sha(field(pull, "head", "sha")),
        base_sha=sha(field(pull, "base", "sha")),
    )


def _workflow_run(payload: Any, config: Integration) -> Action:
    run = required(payload, "workflow_run")
    name = text(run, "name") or text(payload, "workflow", "name") or "?"
    if field(payload, "action") != "completed":
        return Ignore(f"workflow run {field(payload, 'action')}: only completed runs count")
    if name not in config.deployment_workflows:
        return Ignore(f"workflow {name!r} is not configured as a deployment")
    conclusion = field(run, "conclusion")
    if conclusion != "success" and conclusion not in _FAILED_CONCLUSIONS:
        return Ignore(f"workflow run concluded {conclusion!r}: neither deployed nor failed")
    run_id, attempt = required(run, "id"), field(run, "run_attempt") or 1
    pulls = [text(p, "head", "ref") for p in field(run, "pull_requests") or []]
    texts = (text(run, "display_title"), text(run, "head_branch"), *pulls)
    return Deployment(
        repository=required(payload, "repository", "full_name"),
        environment=config.production_environments[0],
        succeeded=conclusion == "success",
        external_ref=f"github:workflow_run:{run_id}:{attempt}",
        deployment_key=f"github:workflow_run:{run_id}:{attempt}",
        started_at=when(
            text(run, "run_started_at") or required(run, "created_at"), "run_started_at"
        ),
        finished_at=when(required(run, "updated_at"), "workflow_run.updated_at"),
        commit_sha=sha(required(run, "head_sha")),
        texts=tuple(t for t in texts if t),
    )


def _release(payload: Any, config: Integration) -> Action:
    action = field(payload, "action")
    if not config.releases_are_deployments:
        return Ignore("releases are not configured as deployments")
    if action != "published":
        return Ignore(f"release {action}: only published releases count as deployments")
    release = required(payload, "release")
    tag = required(release, "tag_name")
    published = when(text(release, "published_at") or required(release, "created_at"))
    texts = (text(release, "name"), text(release, "body"), tag)
    return Deployment(
        repository=required(payload, "repository", "full_name"),
        environment=config.production_environments[0],
        succeeded=True,
        external_ref=f"github:release:{required(release, 'id')}",
        deployment_key=f"github:release:{required(release, 'id')}",
        started_at=min(when(required(release, "created_at")), published),
        finished_at=published,
        commit_sha=sha(field(release, "target_commitish")),
        release_version=str(tag)[:100],
        texts=tuple(t for t in texts if t),
    )


def _labels(issue: Any) -> set[str]:
    return {str(field(label, "name")).lower() for label in field(issue, "labels") or []}


def _issues(payload: Any, config: Integration) -> Action:
    action = field(payload, "action")
    issue = required(payload, "issue")
    label = config.incident_label
    number = field(issue, "number")
    if label not in _labels(issue):
        return Ignore(f"issue #{number} is not labelled {label!r}")
    repository = required(payload, "repository", "full_name")
    ref = f"github:issue:{required(issue, 'id')}"
    title = str(required(issue, "title"))[:200]
    opened = when(required(issue, "created_at"), "issue.created_at")
    if action == "opened" or (
        action == "labeled" and str(field(payload, "label", "name")).lower() == label
    ):
        return IncidentOpened(
            repository=repository, title=title, opened_at=opened, external_ref=ref
        )
    if action == "closed":
        return IncidentResolved(
            repository=repository,
            title=title,
            opened_at=opened,
            resolved_at=when(required(issue, "closed_at"), "issue.closed_at"),
            external_ref=ref,
            resolution=f"issue #{number} closed",
        )
    return Ignore(f"issue #{number} {action}: only opened and closed incidents count")


_HANDLERS = {
    "ping": _ping,
    "deployment": _deployment,
    "deployment_status": _deployment_status,
    "push": _push,
    "pull_request": _pull_request,
    "workflow_run": _workflow_run,
    "release": _release,
    "issues": _issues,
}
