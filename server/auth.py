"""Bearer-token authentication, and guards for the rules that depend on the role alone.

Who may do what is the domain's (`domain.access`; the table in docs/api.md). Webhooks
authenticate by signature instead, operators' probes need no token.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import asyncpg
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware
from litestar.types import Scope

from domain import access
from infra.noticed import NoticedCache
from infra.tokens import REVOKED_CHANNEL, Principal, authenticate
from server.ratelimit import check_failed_auth, count_failed_auth

OPEN_PATHS = ["^/$", "^/healthz", "^/readyz", "^/metrics", "^/schema", "^/webhooks/"]
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="loopline"'}

TOKEN_CACHE_SECONDS = 5.0
"""How long a process trusts a token it has looked up. Revocations are announced by NOTIFY
(`infra.tokens.REVOKED_CHANNEL`) and empty the cache at once; the cache is used only while
this process is listening for them, so this bound matters only for a notice lost in flight."""


class TokenCache(NoticedCache):
    """Live tokens this process looked up recently, so a request costs no database read.

    Only known, live tokens are kept (an unknown token is looked up each time), keyed by
    the token itself; at most `maxsize` of them. A revocation (rare) drops them all.
    """

    channel = REVOKED_CHANNEL

    def __init__(
        self,
        seconds: float = TOKEN_CACHE_SECONDS,
        maxsize: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.seconds = seconds
        self.maxsize = maxsize
        self.clock = clock
        self._entries: dict[str, tuple[float, Principal]] = {}

    def kept(self, token: str) -> Principal | None:
        """The principal of `token` while this process still trusts it, else None."""
        found = self._entries.get(token)
        if found is not None and found[0] > self.clock():
            return found[1]
        return None

    async def principal(
        self, token: str, lookup: Callable[[str], Awaitable[Principal | None]]
    ) -> Principal | None:
        found = self.kept(token)
        if found is not None:
            return found
        now = self.clock()
        generation = self.generation
        principal = await lookup(token)
        if principal is None or not self.keepable(generation):
            self._entries.pop(token, None)
            return principal
        if len(self._entries) >= self.maxsize:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.maxsize:
                self._entries.clear()
        self._entries[token] = (now + self.seconds, principal)
        return principal


class TokenAuthentication(AbstractAuthenticationMiddleware):
    """Resolves `Authorization: Bearer <token>` to a `Principal`, or answers 401."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        token = bearer_token(connection.scope)
        if token is None:
            raise NotAuthorizedException(
                detail="send an API token: Authorization: Bearer <token>", headers=_CHALLENGE
            )
        state = connection.app.state
        cache: TokenCache = state.token_cache
        # A live token this process knows: no lookup to build or await (most requests).
        known = cache.kept(token)
        if known is not None:
            return AuthenticationResult(user=known, auth=known.token_id)
        pool: asyncpg.Pool = state.pool

        async def lookup(secret: str) -> Principal | None:
            # Only lookups are limited: a live token this process knows costs nothing.
            check_failed_auth(connection, secret)
            async with pool.acquire() as conn:
                return await authenticate(conn, secret)

        principal = await cache.principal(token, lookup)
        if principal is None:
            count_failed_auth(connection, token)
            raise NotAuthorizedException(
                detail="the API token is unknown or revoked", headers=_CHALLENGE
            )
        return AuthenticationResult(user=principal, auth=principal.token_id)


def bearer_token(scope: Scope) -> str | None:
    """The token of the first `Authorization` header if it is `Bearer <token>`, else None.
    Read from the ASGI scope (names come lowercased): `connection.headers` would build a
    header map a cached read has no other use for."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def authentication_middleware() -> DefineMiddleware:
    return DefineMiddleware(TokenAuthentication, exclude=OPEN_PATHS)


def principal_of(connection: ASGIConnection) -> Principal:  # type: ignore[type-arg]
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException(detail="this endpoint needs an API token")
    return user


Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]  # type: ignore[type-arg]


def roles(*allowed: access.Role, action: str) -> Guard:
    """A guard letting only tokens of the `allowed` roles through (`NotPermitted`, 403,
    otherwise). For rules that depend on the role alone; rules that depend on a thing's
    team are checked by the application services after they load it.

    Async: Litestar runs a plain function guard in a worker thread, a hop per request.
    """

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        principal_of(connection).actor.check_role(allowed, action=action)

    return guard


ADMIN: Guard = roles(access.Role.ADMIN, action="manage API tokens")
MANAGERS: Guard = roles(*access.MANAGERS, action="manage teams, outcomes and integrations")
# Any live token may read: the authentication middleware already refused the rest, and a
# guard allowing every role would cost each request a copy of its route handler (Litestar
# hands one to every guard).
