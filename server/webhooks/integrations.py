"""Integrations: which repositories a source reports for, the secret that verifies them,
and how their events count (production environments, deployment workflows, incidents)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from domain.increment import PRODUCTION_ENVIRONMENTS
from infra.database import Connection
from infra.noticed import NoticedCache
from server.webhooks.errors import ConfigurationNotFound, InvalidConfiguration, RepositoryTaken

SOURCES = ("github", "gitlab", "generic")
Source = Literal["github", "gitlab", "generic"]
"""Who sends webhook deliveries (`SOURCES`)."""
INTEGRATIONS_CHANNEL = "loopline_integrations"
"""NOTIFY channel: an integration was added or removed (API processes drop their copies)."""
_NOTIFY = f"SELECT pg_notify('{INTEGRATIONS_CHANNEL}', $1)"
DEFAULT_INCIDENT_LABEL = "incident"
_MIN_SECRET = 16


class Integration(msgspec.Struct, frozen=True, kw_only=True):
    """An integration as the server uses it (with its secret; never answered as is)."""

    id: UUID
    source: str
    name: str
    secret: str
    repositories: tuple[str, ...]
    production_environments: tuple[str, ...] = PRODUCTION_ENVIRONMENTS
    deployment_workflows: tuple[str, ...] = ()
    releases_are_deployments: bool = False
    incident_label: str = DEFAULT_INCIDENT_LABEL
    created_at: datetime | None = None


def normalize(repository: str) -> str:
    """Repositories and services compare stripped and lowercase (as teams own them)."""
    return repository.strip().lower()


_COLUMNS = (
    "i.id, i.source, i.name, i.secret, i.production_environments, i.deployment_workflows, "
    "i.releases_are_deployments, i.incident_label, i.created_at, "
    "array(SELECT r.repository FROM webhook_integration_repositories r "
    "WHERE r.integration_id = i.id ORDER BY r.repository) AS repositories"
)


def _integration(row: asyncpg.Record) -> Integration:
    return Integration(
        id=row["id"],
        source=row["source"],
        name=row["name"],
        secret=row["secret"],
        repositories=tuple(row["repositories"]),
        production_environments=tuple(row["production_environments"]),
        deployment_workflows=tuple(row["deployment_workflows"]),
        releases_are_deployments=row["releases_are_deployments"],
        incident_label=row["incident_label"],
        created_at=row["created_at"],
    )


def _check(
    source: str, secret: str, repositories: Sequence[str], environments: Sequence[str]
) -> None:
    if source not in SOURCES:
        raise InvalidConfiguration("source", f"must be one of {', '.join(SOURCES)}")
    if len(secret) < _MIN_SECRET:
        raise InvalidConfiguration("secret", f"must be at least {_MIN_SECRET} characters")
    if not repositories or any(not normalize(r) for r in repositories):
        raise InvalidConfiguration("repositories", "name at least one repository or service")
    if not environments or any(not e.strip() for e in environments):
        raise InvalidConfiguration("production_environments", "name at least one environment")


async def add_integration(
    conn: Connection,
    *,
    source: str,
    secret: str,
    repositories: Sequence[str],
    name: str | None = None,
    production_environments: Sequence[str] = PRODUCTION_ENVIRONMENTS,
    deployment_workflows: Sequence[str] = (),
    releases_are_deployments: bool = False,
    incident_label: str = DEFAULT_INCIDENT_LABEL,
) -> Integration:
    """Store an integration; `RepositoryTaken` when another one of the source lists a repo."""
    _check(source, secret, repositories, production_environments)
    repos = sorted({normalize(r) for r in repositories})
    environments = [e.strip().lower() for e in production_environments]
    integration_id = uuid.uuid4()
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO webhook_integrations (id, source, name, secret, production_environments,"
            " deployment_workflows, releases_are_deployments, incident_label)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            integration_id,
            source,
            name or f"{source}: {', '.join(repos)}"[:200],
            secret,
            environments,
            [w.strip() for w in deployment_workflows if w.strip()],
            releases_are_deployments,
            incident_label.strip().lower() or DEFAULT_INCIDENT_LABEL,
        )
        try:
            await conn.executemany(
                "INSERT INTO webhook_integration_repositories (source, repository, integration_id)"
                " VALUES ($1, $2, $3)",
                [(source, repo, integration_id) for repo in repos],
            )
        except asyncpg.UniqueViolationError:
            raise RepositoryTaken(
                f"another {source} integration already lists one of {', '.join(repos)}"
            ) from None
        await conn.execute(_NOTIFY, str(integration_id))
    found = await get_integration(conn, integration_id)
    assert found is not None
    return found


async def get_integration(conn: Connection, integration_id: UUID) -> Integration | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM webhook_integrations i WHERE i.id = $1", integration_id
    )
    return None if row is None else _integration(row)


async def list_integrations(conn: Connection) -> list[Integration]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM webhook_integrations i ORDER BY i.created_at, i.id"
    )
    return [_integration(row) for row in rows]


async def remove_integration(conn: Connection, integration_id: UUID) -> None:
    """Delete an integration; `ConfigurationNotFound` when there is none with that id."""
    async with conn.transaction():
        done = await conn.execute("DELETE FROM webhook_integrations WHERE id = $1", integration_id)
        await conn.execute(_NOTIFY, str(integration_id))
    if done.endswith(" 0"):
        raise ConfigurationNotFound(f"no integration {integration_id}")


async def candidates(conn: Connection, source: str, repository: str | None) -> list[Integration]:
    """Integrations whose secret may verify a delivery: the one listing its repository;
    for deliveries naming none (organisation hooks), every integration of the source."""
    if repository is None:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM webhook_integrations i WHERE i.source = $1 ORDER BY i.id",
            source,
        )
    else:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM webhook_integrations i "
            "JOIN webhook_integration_repositories l ON l.integration_id = i.id "
            "WHERE l.source = $1 AND l.repository = $2",
            source,
            normalize(repository),
        )
    return [_integration(row) for row in rows]


class IntegrationCache(NoticedCache):
    """The candidates for each (source, repository) this process has looked up, kept while
    it hears INTEGRATIONS_CHANNEL (server/notices.py): a delivery then costs one database
    round trip (its insert) instead of two. At most `maxsize` keys."""

    channel = INTEGRATIONS_CHANNEL

    def __init__(self, maxsize: int = 4096) -> None:
        super().__init__()
        self.maxsize = maxsize
        self._entries: dict[tuple[str, str | None], list[Integration]] = {}

    async def candidates(
        self, pool: asyncpg.Pool, source: str, repository: str | None
    ) -> list[Integration]:
        key = (source, normalize(repository) if repository else None)
        found = self._entries.get(key) if self.listening else None
        if found is not None:
            return found
        generation = self.generation
        async with pool.acquire() as conn:
            found = await candidates(conn, source, repository)
        if self.keepable(generation):
            if len(self._entries) >= self.maxsize:
                self._entries.clear()
            self._entries[key] = found
        return found
