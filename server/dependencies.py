"""Named dependency providers, requested by handlers by parameter name."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, ParamSpec, TypeVar

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter

from domain.access import Actor
from domain.services.base import Written
from infra.database import Connection
from infra.eventstore import PostgresEventStore
from infra.settings import Settings
from infra.tokens import Principal
from projections.cache import ReadModelCache
from projections.catalog import all_projections
from projections.reads import ReadQuery
from projections.runner import wait_for_position
from server.auth import principal_of
from server.schemas import WriteResult, write_result

_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')
READ_YOUR_WRITES_TIMEOUT = 5.0
P = ParamSpec("P")
T = TypeVar("T")


def provide_pool(state: State) -> asyncpg.Pool:
    """The asyncpg pool the lifespan opened."""
    pool: asyncpg.Pool = state.pool
    return pool


def provide_settings(state: State) -> Settings:
    """The settings the app was created with."""
    settings: Settings = state.settings
    return settings


def provide_store(state: State) -> PostgresEventStore:
    """The event store the lifespan built on the pool."""
    store: PostgresEventStore = state.store
    return store


def provide_principal(request: Request) -> Principal:  # type: ignore[type-arg]
    """Who the request acts for (from its bearer token)."""
    return principal_of(request)


def provide_actor(request: Request) -> Actor:  # type: ignore[type-arg]
    """Who the request acts for, as the domain's rules see it (role, teams, name)."""
    return principal_of(request).actor


def provide_expected_version(
    if_match: Annotated[
        str | None,
        HeaderParameter(
            name="If-Match",
            required=False,
            description="The version you last saw; the write fails with 412 if it moved on.",
        ),
    ] = None,
) -> int | None:
    """The version from an `If-Match` header (`3`, `"3"` or `W/"3"`)."""
    if if_match is None:
        return None
    match = _IF_MATCH.match(if_match)
    if match is None:
        raise ValidationException(
            detail='If-Match must be a version number, e.g. "3"',
            extra={"field": "If-Match"},
        )
    return int(match.group(1))


@dataclass(frozen=True, slots=True)
class Change:
    """A write on one aggregate named in the path: the store, who acts, and the version
    `If-Match` expects. A handler is then one call: `change.apply(service, key, **fields)`."""

    store: PostgresEventStore
    actor: Actor
    expected_version: int | None

    async def apply(
        self, service: Callable[..., Awaitable[Written]], ref: Any, **fields: Any
    ) -> WriteResult:
        """Runs the application `service` on `ref` with `fields`, as the acting principal
        and with the expected version; the `WriteResult` of what it wrote."""
        written = await service(
            self.store, ref, **fields, expected_version=self.expected_version, actor=self.actor
        )
        return write_result(written)


def provide_change(
    store: NamedDependency[PostgresEventStore],
    actor: NamedDependency[Actor],
    expected_version: NamedDependency[int | None],
) -> Change:
    """What a write on one aggregate needs (`Change`)."""
    return Change(store=store, actor=actor, expected_version=expected_version)


After = Annotated[
    int | None,
    QueryParameter(
        name="after",
        ge=0,
        required=False,
        description=(
            "Answer only once the read models include the write at this position "
            "(read-your-writes); 504 if they do not within a few seconds."
        ),
    ),
]


async def provide_caught_up(pool: NamedDependency[asyncpg.Pool], after: After = None) -> int | None:
    """Waits until the projections reached `after` (the position a write returned)."""
    return await _catch_up(pool, after)


def answers(data: Any) -> dict[int, ResponseSpec]:
    """The OpenAPI description of a `Reader.answer` of type `data` (the handler
    returns bytes, so Litestar cannot infer it from the return annotation)."""
    return {
        200: ResponseSpec(
            data, description="Request fulfilled, document follows", generate_examples=False
        )
    }


@dataclass(frozen=True, slots=True)
class Reader:
    """What a cached read needs: the pool, the process's cache, and whether the request
    asked for read-your-writes (`after`), which checks the read models' positions."""

    pool: asyncpg.Pool
    cache: ReadModelCache
    fresh: bool

    async def answer(
        self,
        query: ReadQuery[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Response[bytes]:
        """`query`'s answer to these arguments as JSON, encoded once and kept encoded: a
        repeated question costs neither a database round trip nor an encoding. The answer
        is kept until a read model the query declares (`query.reads`) moves on; the key is
        the query and its arguments. The handler declares the answer's type in its
        `responses` so the OpenAPI document still describes it."""

        async def encoded(conn: Connection) -> bytes:
            return msgspec.json.encode(await query(conn, *args, **kwargs))

        body = await self.cache.get(
            self.pool, query.reads, query.key(*args, **kwargs), encoded, fresh=self.fresh
        )
        return Response(body, media_type=MediaType.JSON)


async def provide_reader(state: State, after: After = None) -> Reader:
    """One dependency for the cached reads (feedback pages, metrics). Litestar resolves
    sibling dependencies concurrently in a task group, which costs more than a cached
    answer; a single provider avoids that on the hottest endpoints."""
    pool: asyncpg.Pool = state.pool
    cache: ReadModelCache = state.metrics_cache
    return Reader(pool, cache, fresh=bool(await _catch_up(pool, after)))


async def _catch_up(pool: asyncpg.Pool, after: int | None) -> int | None:
    if after is None or after == 0:
        return after
    async with pool.acquire() as conn:
        head = await conn.fetchval("SELECT coalesce(max(notification_id), 0) FROM stored_events")
        if after > head:
            raise ValidationException(
                detail=f"after={after} is beyond the newest stored event ({head})",
                extra={"field": "after"},
            )
        reached = await wait_for_position(
            conn, after, all_projections(), within=READ_YOUR_WRITES_TIMEOUT
        )
    if not reached:
        raise HTTPException(
            status_code=504,
            detail=f"the read models did not reach position {after} in time; retry",
        )
    return after
