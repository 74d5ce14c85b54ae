"""Operators' API of the webhook side: integrations, stored deliveries, notification targets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter

from domain.increment import PRODUCTION_ENVIRONMENTS
from infra.settings import Settings
from server.auth import MANAGERS
from server.schemas import Schema
from server.webhooks import inbox, outbound
from server.webhooks.errors import ConfigurationNotFound
from server.webhooks.integrations import (
    DEFAULT_INCIDENT_LABEL,
    Integration,
    Source,
    add_integration,
    list_integrations,
    remove_integration,
)

IntegrationId = Annotated[UUID, PathParameter(description="The integration's id.")]
TargetId = Annotated[UUID, PathParameter(description="The notification target's id.")]
DeliveryId = Annotated[int, PathParameter(description="The stored delivery's id.")]


class IntegrationCreate(Schema):
    source: Source
    secret: str
    repositories: list[str]
    name: str | None = None
    production_environments: list[str] = msgspec.field(
        default_factory=lambda: list(PRODUCTION_ENVIRONMENTS)
    )
    deployment_workflows: list[str] = msgspec.field(default_factory=list)
    releases_are_deployments: bool = False
    incident_label: str = DEFAULT_INCIDENT_LABEL


class IntegrationItem(Schema):
    """An integration as the API shows it: never its secret."""

    id: UUID
    source: str
    name: str
    repositories: list[str]
    production_environments: list[str]
    deployment_workflows: list[str]
    releases_are_deployments: bool
    incident_label: str
    created_at: datetime | None

    @classmethod
    def of(cls, integration: Integration) -> IntegrationItem:
        return cls(
            id=integration.id,
            source=integration.source,
            name=integration.name,
            repositories=list(integration.repositories),
            production_environments=list(integration.production_environments),
            deployment_workflows=list(integration.deployment_workflows),
            releases_are_deployments=integration.releases_are_deployments,
            incident_label=integration.incident_label,
            created_at=integration.created_at,
        )


class IntegrationsController(Controller):
    path = "/api/integrations"
    tags = ["webhooks"]
    guards = [MANAGERS]

    @post(
        operation_id="addIntegration",
        summary="Add an integration (the secret that verifies a source's deliveries)",
        description="The secret is stored for verification and never answered or logged.",
        status_code=201,
    )
    async def add(
        self, data: JSONBody[IntegrationCreate], pool: NamedDependency[asyncpg.Pool]
    ) -> IntegrationItem:
        async with pool.acquire() as conn:
            integration = await add_integration(
                conn,
                source=data.source,
                secret=data.secret,
                repositories=data.repositories,
                name=data.name,
                production_environments=data.production_environments,
                deployment_workflows=data.deployment_workflows,
                releases_are_deployments=data.releases_are_deployments,
                incident_label=data.incident_label,
            )
        return IntegrationItem.of(integration)

    @get(
        operation_id="listIntegrations",
        summary="List integrations (without secrets)",
        description="Every integration: its source, repositories, what counts as a production "
        "deployment and an incident. Secrets are never answered.",
    )
    async def list_all(self, pool: NamedDependency[asyncpg.Pool]) -> list[IntegrationItem]:
        async with pool.acquire() as conn:
            return [IntegrationItem.of(i) for i in await list_integrations(conn)]

    @delete(
        "/{integration_id:uuid}",
        operation_id="removeIntegration",
        summary="Remove an integration",
        description="Deliveries for its repositories are refused (401) from now on; those "
        "already stored are kept.",
    )
    async def remove(
        self, integration_id: IntegrationId, pool: NamedDependency[asyncpg.Pool]
    ) -> None:
        async with pool.acquire() as conn:
            await remove_integration(conn, integration_id)


class DeliveryPage(Schema):
    items: list[inbox.Delivery]
    counts: dict[str, int]
    before: int | None


class Replay(Schema):
    """Which stored deliveries to map again: by id, and/or all in the given states."""

    ids: list[int] = msgspec.field(default_factory=list)
    states: list[str] = msgspec.field(default_factory=list)


class Replayed(Schema):
    requeued: int


class DeliveriesController(Controller):
    path = "/api/webhooks/deliveries"
    tags = ["webhooks"]
    guards = [MANAGERS]

    @get(
        operation_id="listWebhookDeliveries",
        summary="Stored webhook deliveries, newest first",
        description=(
            f"States: {', '.join(inbox.STATES)}. Ignored deliveries say why (e.g. `unowned: …`); "
            "failed ones say what went wrong and when they are tried again."
        ),
    )
    async def list_deliveries(
        self,
        pool: NamedDependency[asyncpg.Pool],
        state_filter: Annotated[
            inbox.State | None,
            QueryParameter(name="state", description="Only deliveries in this state."),
        ] = None,
        source: FromQuery[Source | None] = None,
        before: Annotated[
            int | None, QueryParameter(description="Only deliveries with a smaller id.")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> DeliveryPage:
        async with pool.acquire() as conn:
            items = await inbox.list_deliveries(
                conn, state=state_filter, source=source, before=before, limit=limit
            )
            counts = await inbox.counts(conn)
        last = items[-1].id if len(items) == limit else None
        return DeliveryPage(items=items, counts=counts, before=last)

    @get(
        "/{delivery:int}",
        operation_id="getWebhookDelivery",
        summary="One stored delivery",
        description="A stored delivery with its state (pending, mapped, ignored, failed), "
        "attempts and why it was ignored or failed.",
    )
    async def get_one(
        self, delivery: DeliveryId, pool: NamedDependency[asyncpg.Pool]
    ) -> inbox.Delivery:
        async with pool.acquire() as conn:
            found = await inbox.get_delivery(conn, delivery)
        if found is None:
            raise ConfigurationNotFound(f"no stored delivery {delivery}")
        return found

    @post(
        "/replay",
        operation_id="replayWebhookDeliveries",
        summary="Map stored deliveries again (after the mapping or the configuration improved)",
        description="Queues the named deliveries (by id and/or state) to be mapped again; "
        "mapping is idempotent, so replaying is safe at any time.",
        status_code=202,
    )
    async def replay(self, data: JSONBody[Replay], pool: NamedDependency[asyncpg.Pool]) -> Replayed:
        async with pool.acquire() as conn:
            count = await inbox.requeue(conn, ids=data.ids, states=data.states)
        return Replayed(requeued=count)


class TargetCreate(Schema):
    url: str
    secret: str | None = None
    events: list[str] = msgspec.field(default_factory=lambda: list(outbound.EVENTS))


class TargetItem(Schema):
    id: UUID
    url: str
    events: list[str]
    created_at: datetime
    secret: str | None = None
    """Only in the answer that created the target, and only when Loopline generated it."""

    @classmethod
    def of(cls, target: outbound.Target, secret: str | None = None) -> TargetItem:
        return cls(
            id=target.id,
            url=target.url,
            events=list(target.events),
            created_at=target.created_at,
            secret=secret,
        )


class NotificationsController(Controller):
    path = "/api/notifications"
    tags = ["webhooks"]
    guards = [MANAGERS]

    @post(
        "/targets",
        operation_id="addNotificationTarget",
        summary="Notify a URL when feedback ships or its loop closes",
        description=(
            "Signed the Standard Webhooks way with the target's secret (give one, or Loopline "
            "generates a `whsec_…` secret and answers it once). Private, loopback and "
            "link-local addresses are refused unless LOOPLINE_OUTBOUND_ALLOW_PRIVATE."
        ),
        status_code=201,
    )
    async def add_target(
        self,
        data: JSONBody[TargetCreate],
        pool: NamedDependency[asyncpg.Pool],
        settings: NamedDependency[Settings],
    ) -> TargetItem:
        async with pool.acquire() as conn:
            target, secret = await outbound.add_target(
                conn,
                url=data.url,
                secret=data.secret,
                events=data.events,
                allow_private=settings.outbound_allow_private,
            )
        return TargetItem.of(target, None if data.secret else secret)

    @get(
        "/targets",
        operation_id="listNotificationTargets",
        summary="Notification targets",
        description="The URLs notified when feedback ships or its loop closes, and which "
        "events each receives. Secrets are never answered.",
    )
    async def list_targets(self, pool: NamedDependency[asyncpg.Pool]) -> list[TargetItem]:
        async with pool.acquire() as conn:
            return [TargetItem.of(t) for t in await outbound.list_targets(conn)]

    @delete(
        "/targets/{target_id:uuid}",
        operation_id="removeNotificationTarget",
        summary="Remove a notification target",
        description="Stops notifying the URL; notifications already sent stay in the log.",
    )
    async def remove_target(self, target_id: TargetId, pool: NamedDependency[asyncpg.Pool]) -> None:
        async with pool.acquire() as conn:
            await outbound.remove_target(conn, target_id)

    @get(
        "/deliveries",
        operation_id="listNotificationDeliveries",
        summary="The notification delivery log, newest first",
        description="States: pending (incl. waiting to retry), delivered, failed.",
    )
    async def list_deliveries(
        self,
        pool: NamedDependency[asyncpg.Pool],
        state_filter: Annotated[
            str | None, QueryParameter(name="state", description="Only deliveries in this state.")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[outbound.NotificationDelivery]:
        async with pool.acquire() as conn:
            return await outbound.list_notifications(conn, state=state_filter, limit=limit)


def route_handlers() -> list[Any]:
    """Everything of the webhook side, for the app's route list."""
    from server.webhooks.receivers import WebhookReceivers

    return [WebhookReceivers, IntegrationsController, DeliveriesController, NotificationsController]
