"""Mapping a stored delivery to domain commands, idempotently.

Idempotent twice over: a delivery id is stored once (the inbox), and every command
carries the delivery's natural key as the domain's `external_ref` (deployment status
id, workflow run id + attempt, GitLab deployment id + status, the sender's id), so the
same fact reported again, or mapped again by `replay`, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain import services
from domain.increment import Commit
from domain.ports import EventStore
from domain.references import ReferencePattern
from domain.vocabulary import IncidentStatus, IncrementStatus
from infra.database import Connection
from server.webhooks import generic, github, gitlab
from server.webhooks.actions import (
    ZERO_SHA,
    Action,
    Deployment,
    Ignore,
    IncidentOpened,
    IncidentResolved,
    Merge,
    PayloadError,
    Push,
)
from server.webhooks.inbox import IGNORED, MAPPED, Claimed
from server.webhooks.integrations import Integration, candidates, get_integration, normalize

#: How far back through pushes a deployment looks for the commits it carries.
MAX_PUSH_CHAIN = 200


class Result(msgspec.Struct, frozen=True):
    state: str
    reason: str | None = None
    outcome: dict[str, Any] | None = None


INTERPRETERS = {
    "github": github.interpret,
    "gitlab": gitlab.interpret,
    "generic": generic.interpret,
}


async def integration_for(conn: Connection, claimed: Claimed) -> Integration | None:
    """The integration that verified the delivery, else the one listing its repository now."""
    if claimed.integration_id is not None:
        found = await get_integration(conn, claimed.integration_id)
        if found is not None:
            return found
    if claimed.repository is None:
        return None
    listed = await candidates(conn, claimed.source, claimed.repository)
    return listed[0] if listed else None


def interpret(claimed: Claimed, integration: Integration) -> Action:
    try:
        payload = msgspec.json.decode(claimed.body)
    except msgspec.DecodeError:
        raise PayloadError("the body is not JSON") from None
    return INTERPRETERS[claimed.source](claimed.event, payload, integration)


async def map_delivery(conn: Connection, store: EventStore, claimed: Claimed) -> Result:
    """Run the commands a delivery means; side tables are written on `conn` (the caller's
    transaction), domain commands through `store`."""
    integration = await integration_for(conn, claimed)
    if integration is None:
        return Result(IGNORED, f"no {claimed.source} integration lists {claimed.repository!r}")
    action = interpret(claimed, integration)
    if isinstance(action, Ignore):
        return Result(IGNORED, action.reason)
    repository = normalize(action.repository)
    team = await services.team_owning(store, repository)
    if team is None:
        return Result(IGNORED, f"unowned: no team owns repository {repository!r}")
    outcome: dict[str, Any] = {"team": str(team)}
    if isinstance(action, Deployment):
        outcome |= await deploy(conn, store, action, repository, integration)
    elif isinstance(action, Push):
        outcome |= await push(conn, action, repository)
    elif isinstance(action, Merge):
        outcome |= await merge(conn, store, action, repository)
    elif isinstance(action, IncidentOpened):
        written = await services.open_incident(
            store,
            service=repository,
            title=action.title,
            opened_at=action.opened_at,
            caused_by_sha=action.caused_by_sha,
            external_ref=action.external_ref,
        )
        outcome |= {"incident": str(written.id), "created": written.created}
    elif isinstance(action, IncidentResolved):
        outcome |= await resolve(store, action, repository)
    return Result(MAPPED, None, outcome)


_KNOWN_COMMITS = """
WITH RECURSIVE chain (after_sha, before_sha, depth) AS (
    SELECT after_sha, before_sha, 1 FROM webhook_pushes WHERE repository = $1 AND after_sha = $2
    UNION ALL
    SELECT p.after_sha, p.before_sha, c.depth + 1
    FROM chain c JOIN webhook_pushes p ON p.repository = $1 AND p.after_sha = c.before_sha
    WHERE c.depth < $3 AND NOT EXISTS (
        SELECT 1 FROM webhook_deployments d
        WHERE d.repository = $1 AND d.commit_sha = c.before_sha AND d.succeeded AND d.production
    )
)
SELECT DISTINCT c.sha, c.authored_at, c.message
FROM chain JOIN webhook_push_commits pc ON pc.repository = $1 AND pc.after_sha = chain.after_sha
JOIN webhook_commits c ON c.repository = $1 AND c.sha = pc.sha
ORDER BY c.authored_at, c.sha
"""


async def known_commits(conn: Connection, repository: str, head: str) -> list[Commit]:
    """Commits pushed up to `head` since the last deployed sha (as far as pushes tell)."""
    rows = await conn.fetch(_KNOWN_COMMITS, repository, head, MAX_PUSH_CHAIN)
    return [Commit(sha=r["sha"], authored_at=r["authored_at"], message=r["message"]) for r in rows]


async def linked_texts(conn: Connection, repository: str, shas: Sequence[str]) -> list[str]:
    rows = await conn.fetch(
        "SELECT texts FROM webhook_commit_texts WHERE repository = $1 AND sha = ANY($2::text[])"
        " ORDER BY sha, origin",
        repository,
        list(shas),
    )
    return [t for row in rows for t in row["texts"]]


# Pushes after a commit: those whose `before` is it or that carried it, then onwards.
_DESCENDANTS = """
WITH RECURSIVE forward (after_sha, depth) AS (
    SELECT p.after_sha, 1 FROM webhook_pushes p
    WHERE p.repository = $1 AND p.after_sha <> $2 AND (
        p.before_sha = $2 OR EXISTS (
            SELECT 1 FROM webhook_push_commits pc
            WHERE pc.repository = $1 AND pc.after_sha = p.after_sha AND pc.sha = $2))
    UNION
    SELECT p.after_sha, f.depth + 1
    FROM forward f JOIN webhook_pushes p ON p.repository = $1 AND p.before_sha = f.after_sha
    WHERE f.depth < $3
)
SELECT f.after_sha AS sha FROM forward f
UNION
SELECT pc.sha FROM forward f
JOIN webhook_push_commits pc ON pc.repository = $1 AND pc.after_sha = f.after_sha
JOIN webhook_commits c ON c.repository = $1 AND c.sha = pc.sha
WHERE pc.sha <> $2 AND c.authored_at > coalesce(
    (SELECT authored_at FROM webhook_commits WHERE repository = $1 AND sha = $2), '-infinity')
"""


async def rolled_back_by_redeploying(
    conn: Connection, store: EventStore, repository: str, action: Deployment
) -> list[UUID]:
    """The deployments a successful redeployment of an ancestor commit rolls back: those of
    the commit's descendants (as far as the pushes Loopline saw tell) that finished after
    the last deployment of the commit itself and before this one, not yet rolled back."""
    if not action.succeeded or action.commit_sha is None:
        return []
    head = action.commit_sha
    descendants = [
        r["sha"] for r in await conn.fetch(_DESCENDANTS, repository, head, MAX_PUSH_CHAIN)
    ]
    if not descendants:
        return []
    rows = await conn.fetch(
        "SELECT increment_id, commit_sha = $3 AS itself FROM webhook_deployments"
        " WHERE repository = $1 AND succeeded AND production"
        " AND (commit_sha = ANY($2::text[]) OR commit_sha = $3)",
        repository,
        descendants,
        head,
    )
    since = None
    later: list[services.IncrementView] = []
    for row in rows:
        increment = await services.get_increment(store, row["increment_id"])
        if increment.finished_at > action.finished_at:
            continue
        if row["itself"]:
            since = max(since or increment.finished_at, increment.finished_at)
        elif increment.status != IncrementStatus.ROLLED_BACK:
            later.append(increment)
    return [i.id for i in later if since is None or i.finished_at > since]


async def deploy(
    conn: Connection,
    store: EventStore,
    action: Deployment,
    repository: str,
    integration: Integration,
) -> dict[str, Any]:
    commits: dict[str, Commit] = {c.sha: c for c in action.commits}
    if action.commit_sha is not None:
        for c in await known_commits(conn, repository, action.commit_sha):
            commits.setdefault(c.sha, c)
    shas = [*commits, *([action.commit_sha] if action.commit_sha else [])]
    texts = [*action.texts, *await linked_texts(conn, repository, shas)]
    # Interpreters pass on production deployments only (by name or the sender's flag).
    production = True
    earlier = await conn.fetchrow(
        "SELECT increment_id, succeeded FROM webhook_deployments WHERE deployment_key = $1",
        action.deployment_key,
    )
    if action.succeeded and earlier is not None and earlier["succeeded"]:
        # Another success status of a deployment already recorded: the same increment.
        return {"increment": str(earlier["increment_id"]), "created": False, "succeeded": True}
    if not action.succeeded and earlier is not None:
        # The deployment we recorded as a success failed after all.
        increment = await services.get_increment(store, earlier["increment_id"])
        if increment.status == IncrementStatus.SUCCEEDED:
            await services.mark_increment_failed(
                store, increment.id, reason="the deployment failed", failed_at=action.finished_at
            )
        await conn.execute(
            "UPDATE webhook_deployments SET succeeded = false WHERE deployment_key = $1",
            action.deployment_key,
        )
        return {"increment": str(increment.id), "created": False, "marked_failed": True}
    rolls_back: list[UUID | str] = [
        *action.rolls_back,
        *await rolled_back_by_redeploying(conn, store, repository, action),
    ]
    written = await services.record_increment(
        store,
        service=repository,
        environment=action.environment,
        release_version=action.release_version,
        commit_sha=action.commit_sha,
        started_at=action.started_at,
        finished_at=action.finished_at,
        succeeded=action.succeeded,
        commits=sorted(commits.values(), key=lambda c: (c.authored_at, c.sha)),
        texts=texts,
        external_ref=action.external_ref,
        production=(*integration.production_environments, action.environment.lower()),
        rolls_back=rolls_back,
    )
    await conn.execute(
        "INSERT INTO webhook_deployments (deployment_key, repository, commit_sha, increment_id,"
        " succeeded, production) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (deployment_key) DO UPDATE SET increment_id = EXCLUDED.increment_id,"
        " succeeded = EXCLUDED.succeeded",
        action.deployment_key,
        repository,
        action.commit_sha,
        written.id,
        action.succeeded,
        production,
    )
    return {
        "increment": str(written.id),
        "created": written.created,
        "succeeded": action.succeeded,
        "commits": len(commits),
        "feedback_refs": list(written.feedback_refs),
        "decision_refs": list(written.decision_refs),
        "shipped": msgspec.to_builtins(written.shipped),
        **({"rolls_back": [str(r) for r in rolls_back]} if rolls_back else {}),
    }


async def push(conn: Connection, action: Push, repository: str) -> dict[str, Any]:
    await conn.execute(
        "INSERT INTO webhook_pushes (repository, after_sha, before_sha, pushed_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        repository,
        action.after,
        action.before or ZERO_SHA,
        action.pushed_at,
    )
    await conn.executemany(
        "INSERT INTO webhook_commits (repository, sha, authored_at, message)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        [(repository, c.sha, c.authored_at, c.message) for c in action.commits],
    )
    await conn.executemany(
        "INSERT INTO webhook_push_commits (repository, after_sha, sha)"
        " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [(repository, action.after, c.sha) for c in action.commits],
    )
    return {"head": action.after, "commits": len(action.commits)}


# The branch's pushes back from its head: until its base, a deployed commit, or the start.
_BRANCH_COMMITS = """
WITH RECURSIVE chain (after_sha, before_sha, depth) AS (
    SELECT after_sha, before_sha, 1 FROM webhook_pushes WHERE repository = $1 AND after_sha = $2
    UNION ALL
    SELECT p.after_sha, p.before_sha, c.depth + 1
    FROM chain c JOIN webhook_pushes p ON p.repository = $1 AND p.after_sha = c.before_sha
    WHERE c.depth < $4 AND c.before_sha IS DISTINCT FROM $3 AND NOT EXISTS (
        SELECT 1 FROM webhook_deployments d
        WHERE d.repository = $1 AND d.commit_sha = c.before_sha AND d.succeeded AND d.production
    )
)
SELECT min(c.authored_at) AS first_commit_at
FROM chain JOIN webhook_push_commits pc ON pc.repository = $1 AND pc.after_sha = chain.after_sha
JOIN webhook_commits c ON c.repository = $1 AND c.sha = pc.sha
"""


async def first_commit_at(conn: Connection, repository: str, action: Merge) -> datetime | None:
    """When the branch's first commit was authored, as far as the pushes Loopline saw tell."""
    if action.head_sha is None:
        return None
    found: datetime | None = await conn.fetchval(
        _BRANCH_COMMITS, repository, action.head_sha, action.base_sha, MAX_PUSH_CHAIN
    )
    return found


async def merge(
    conn: Connection, store: EventStore, action: Merge, repository: str
) -> dict[str, Any]:
    await conn.execute(
        "INSERT INTO webhook_commit_texts (repository, sha, origin, texts) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (repository, sha, origin) DO UPDATE SET texts = EXCLUDED.texts",
        repository,
        action.merge_sha,
        action.origin,
        list(action.texts),
    )
    refs = ReferencePattern().find(action.texts)
    pull: dict[str, Any] = {}
    if action.opened_at is not None and action.merged_at is not None:
        written = await services.record_pull_request(
            store,
            service=repository,
            ref=action.origin,
            title=action.title,
            first_commit_at=await first_commit_at(conn, repository, action),
            opened_at=action.opened_at,
            merged_at=max(action.merged_at, action.opened_at),
            merge_sha=action.merge_sha,
        )
        pull = {"pull_request": str(written.id)}
    return {
        **pull,
        "commit": action.merge_sha,
        "feedback_refs": list(refs.feedback),
        "decision_refs": list(refs.decisions),
    }


async def resolve(store: EventStore, action: IncidentResolved, repository: str) -> dict[str, Any]:
    # Opening is idempotent on the reference: it finds the incident, or records one that
    # opened before the integration existed.
    opened = await services.open_incident(
        store,
        service=repository,
        title=action.title,
        opened_at=action.opened_at,
        external_ref=action.external_ref,
    )
    incident = await services.get_incident(store, opened.id)
    resolved = incident.status == IncidentStatus.OPEN
    if resolved:
        await services.resolve_incident(
            store, opened.id, resolution=action.resolution, resolved_at=action.resolved_at
        )
    return {"incident": str(opened.id), "created": opened.created, "resolved": resolved}
