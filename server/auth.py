"""Bearer-token authentication and the role and team rules of the API.

Roles: admin may do everything; product manages teams, outcomes and decisions and
reads everything; member acts on feedback only within their own teams. Webhooks
authenticate by signature instead, operators' probes need no token.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from infra.tokens import Principal, Role, authenticate

OPEN_PATHS = ["^/healthz", "^/readyz", "^/metrics", "^/schema", "^/webhooks/"]
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="loopline"'}


class TokenAuthentication(AbstractAuthenticationMiddleware):
    """Resolves `Authorization: Bearer <token>` to a `Principal`, or answers 401."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException(
                detail="send an API token: Authorization: Bearer <token>", headers=_CHALLENGE
            )
        pool = connection.app.state.pool
        async with pool.acquire() as conn:
            principal = await authenticate(conn, token.strip())
        if principal is None:
            raise NotAuthorizedException(
                detail="the API token is unknown or revoked", headers=_CHALLENGE
            )
        return AuthenticationResult(user=principal, auth=principal.token_id)


def authentication_middleware() -> DefineMiddleware:
    return DefineMiddleware(TokenAuthentication, exclude=OPEN_PATHS)


def principal_of(connection: ASGIConnection) -> Principal:  # type: ignore[type-arg]
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException(detail="this endpoint needs an API token")
    return user


Guard = Callable[[ASGIConnection, BaseRouteHandler], None]  # type: ignore[type-arg]


def roles(*allowed: Role) -> Guard:
    """A guard letting only tokens of the `allowed` roles through (403 otherwise)."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        principal = principal_of(connection)
        if principal.role not in allowed:
            raise PermissionDeniedException(
                detail=f"a {principal.role} token may not do this; needs {' or '.join(allowed)}"
            )

    return guard


ADMIN: Guard = roles("admin")
MANAGERS: Guard = roles("admin", "product")
ANYONE: Guard = roles("admin", "product", "member")


def check_team(principal: Principal, team_id: UUID | None, *, what: str) -> None:
    """Members act only within their teams; an item without a team is open to any member."""
    if principal.role != "member" or team_id is None:
        return
    if team_id not in principal.team_ids:
        raise PermissionDeniedException(detail=f"{what} belongs to a team this token is not in")
