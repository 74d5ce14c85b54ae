"""The receiving endpoints: verify, store in the inbox, answer; mapping happens after."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec
from litestar import Controller, Request, Response, post
from litestar.datastructures import Headers
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from infra.counters import WEBHOOKS_RECEIVED
from server.ratelimit import LIMITED_BY, WEBHOOKS
from server.schemas import Schema
from server.webhooks import generic, github, gitlab
from server.webhooks.arrivals import ArrivalWriter
from server.webhooks.errors import Unverified, WebhookError
from server.webhooks.inbox import Arrival
from server.webhooks.integrations import Integration, IntegrationCache, normalize
from server.webhooks.verify import (
    check_standard_timestamp,
    github_signature_ok,
    gitlab_token_ok,
    standard_signature_ok,
)

MAX_BODY = 1024 * 1024
MAX_DELIVERY_ID = 1000
"""Longest delivery id (X-GitHub-Delivery, Idempotency-Key, X-Gitlab-Event-UUID, webhook-id)
kept; a longer one is a 400. Ids are stored whole: two deliveries differ whenever their ids do."""
_NOT_VERIFIED = (
    "the signature does not verify with the secret of an integration for this repository"
)


class Accepted(Schema):
    """A stored delivery: its inbox id and state; `duplicate` when its id was seen before."""

    delivery: int
    state: str
    duplicate: bool


def _json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise WebhookError("the body is not JSON") from None


class _GithubRepository(msgspec.Struct):
    full_name: Any = None


class _GithubHead(msgspec.Struct):
    """All a GitHub delivery's receipt reads of its body; the rest is checked, not built."""

    repository: _GithubRepository | None = None


def _github_repository(body: bytes) -> str | None:
    """`github.repository_of` the body, without building the whole payload (a few KB of
    objects a delivery) when it has the usual shape; 400 when the body is not JSON."""
    try:
        head = msgspec.json.decode(body, type=_GithubHead)
    except msgspec.ValidationError:
        # JSON of another shape (not an object, or `repository` not one): decoded whole.
        return github.repository_of(_json(body))
    except msgspec.DecodeError:
        raise WebhookError("the body is not JSON") from None
    found = head.repository
    return github.repository_of({"repository": {"full_name": found.full_name}} if found else {})


def _body_id(body: bytes) -> str:
    # Senders that give no delivery id: the same body is the same delivery.
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _kept(headers: Headers, names: tuple[str, ...]) -> dict[str, str]:
    return {name: headers[name] for name in names if name in headers}


async def _accept(
    request: Request[Any, Any, Any],
    pool: asyncpg.Pool,
    *,
    source: str,
    event: str,
    delivery_id: str,
    repository: str | None,
    body: bytes,
    kept: tuple[str, ...],
    verifies: Callable[[Integration], bool],
    status_code: int = 202,
) -> Response[Accepted]:
    if len(delivery_id) > MAX_DELIVERY_ID:
        raise WebhookError(
            f"the delivery id is {len(delivery_id)} characters long; at most {MAX_DELIVERY_ID}"
        )
    integrations: IntegrationCache = request.app.state.integration_cache
    found = [i for i in await integrations.candidates(pool, source, repository) if verifies(i)]
    if not found:
        WEBHOOKS_RECEIVED.labels(source, "unverified").inc()
        raise Unverified(_NOT_VERIFIED)
    arrivals: ArrivalWriter = request.app.state.arrivals
    stored = await arrivals.store(
        Arrival(
            source=source,
            delivery_id=delivery_id,
            event=event[:100],
            repository=normalize(repository) if repository else None,
            integration_id=found[0].id,
            headers=_kept(request.headers, kept),
            body=body,
        )
    )
    WEBHOOKS_RECEIVED.labels(source, "duplicate" if stored.duplicate else "stored").inc()
    mapper = getattr(request.app.state, "webhook_mapper", None)
    if mapper is not None and not stored.duplicate:
        mapper.wake()
    return Response(
        Accepted(delivery=stored.id, state=stored.state, duplicate=stored.duplicate),
        status_code=status_code,
    )


class WebhookReceivers(Controller):
    """Deliveries from delivery tooling; authenticated by signature, not by token."""

    path = "/webhooks"
    tags = ["webhooks"]
    opt = {LIMITED_BY: WEBHOOKS}  # counted per client address (server.ratelimit)

    @post(
        "/github",
        operation_id="receiveGithubWebhook",
        summary="Receive a GitHub delivery",
        description=(
            "Verified by X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the secret of "
            "the integration listing the repository); stored, then mapped. 202 (200 for ping); "
            "400 for an X-GitHub-Delivery over 1,000 characters; 401 when not verified; "
            "413 over 1 MiB."
        ),
        request_max_body_size=MAX_BODY,
        status_code=202,
        responses={
            200: ResponseSpec(Accepted, description="A ping, stored", generate_examples=False)
        },
    )
    async def receive_github(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool]
    ) -> Response[Accepted]:
        signature = request.headers.get("x-hub-signature-256")
        if not signature:
            raise Unverified("X-Hub-Signature-256 is missing")
        event = request.headers.get("x-github-event")
        if not event:
            raise WebhookError("X-GitHub-Event is missing")
        body = await request.body()
        return await _accept(
            request,
            pool,
            source="github",
            event=event,
            delivery_id=request.headers.get("x-github-delivery") or _body_id(body),
            repository=_github_repository(body),
            body=body,
            kept=github.HEADERS,
            verifies=lambda i: github_signature_ok(i.secret, body, signature),
            status_code=200 if event == "ping" else 202,
        )

    @post(
        "/gitlab",
        operation_id="receiveGitlabWebhook",
        summary="Receive a GitLab delivery",
        description=(
            "Verified by X-Gitlab-Token (the integration's secret, compared in constant time); "
            "Idempotency-Key or X-Gitlab-Event-UUID identify it (at most 1,000 characters, "
            "else 400). 202; 401; 413 over 1 MiB."
        ),
        request_max_body_size=MAX_BODY,
        status_code=202,
    )
    async def receive_gitlab(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool]
    ) -> Response[Accepted]:
        token = request.headers.get("x-gitlab-token")
        if not token:
            raise Unverified("X-Gitlab-Token is missing")
        body = await request.body()
        payload = _json(body)
        headers = request.headers
        delivery_id = (
            headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid") or _body_id(body)
        )
        kind = payload.get("object_kind") if isinstance(payload, dict) else None
        event = headers.get("x-gitlab-event") or str(kind or "unknown")
        return await _accept(
            request,
            pool,
            source="gitlab",
            event=event,
            delivery_id=delivery_id,
            repository=gitlab.repository_of(payload),
            body=body,
            kept=gitlab.HEADERS,
            verifies=lambda i: gitlab_token_ok(i.secret, token),
        )

    @post(
        "/generic",
        operation_id="receiveGenericWebhook",
        summary="Receive a delivery from any CI/CD tool (Standard Webhooks)",
        description=(
            "Signed the Standard Webhooks way: webhook-id, webhook-timestamp (within 5 minutes) "
            "and webhook-signature `v1,<base64 HMAC-SHA256 of id.timestamp.body>`. The body is "
            "a deployment or an incident (docs/webhooks.md). 202; 400 for a webhook-id over "
            "1,000 characters; 401; 413 over 1 MiB."
        ),
        request_max_body_size=MAX_BODY,
        status_code=202,
    )
    async def receive_generic(
        self, request: Request[Any, Any, Any], pool: NamedDependency[asyncpg.Pool]
    ) -> Response[Accepted]:
        headers = request.headers
        message_id, signature = headers.get("webhook-id"), headers.get("webhook-signature")
        if not message_id or not signature:
            raise Unverified("webhook-id and webhook-signature are required")
        timestamp = check_standard_timestamp(headers.get("webhook-timestamp"))
        body = await request.body()
        payload = _json(body)
        return await _accept(
            request,
            pool,
            source="generic",
            event=generic.event_of(payload),
            delivery_id=message_id,
            repository=generic.repository_of(payload),
            body=body,
            kept=generic.HEADERS,
            verifies=lambda i: standard_signature_ok(
                i.secret, message_id, timestamp, body, signature
            ),
        )
