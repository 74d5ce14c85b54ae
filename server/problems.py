"""Errors to RFC 9457 problem+json, in exactly one place."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from domain.access import NotPermitted
from domain.errors import (
    ConcurrencyConflict,
    DomainError,
    InvalidTransition,
    NotFound,
    StaleVersion,
    ValidationError,
)
from domain.index import KeyTaken
from infra.database import DatabaseUnavailable
from projections.paging import InvalidQuery
from server.webhooks.errors import InvalidConfiguration, WebhookError

PROBLEMS = "https://loopline.dev/problems/"
RETRY_AFTER = {"Retry-After": "5"}

# One stable `type` per kind of HTTP-level problem; the title is the status's phrase and the
# detail says what exactly was wrong.
_HTTP_KINDS = {
    400: "invalid-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
    504: "timeout",
}


class ProblemDetails(msgspec.Struct, kw_only=True):
    """An RFC 9457 problem: `type` names the kind (stable), `title` is the kind's generic
    summary, `detail` says what exactly went wrong with this request."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    """The field, parameter or header at fault, where one is."""
    current_version: int | None = None
    """For version conflicts: the aggregate's version now."""
    current_state: str | None = None
    """For impossible transitions: the state the item is in."""
    action: str | None = None
    """For impossible transitions: what was attempted."""
    errors: list[dict[str, Any]] | None = None
    """For invalid requests: each value at fault, with where it was found."""


_MISSING = re.compile(r"^Missing required (?:query|path|header|cookie) parameter '([^']+)'")


def _field_of(error: HTTPException) -> str | None:
    """The one parameter a framework's 400 is about, so `field` names it as our own
    problems do: a missing required parameter, or validation errors of one key."""
    if isinstance(error.extra, dict) and "field" in error.extra:
        return None
    if isinstance(error.extra, list):
        keys = {e.get("key") for e in error.extra if isinstance(e, dict)}
        if len(keys) == 1 and isinstance(key := keys.pop(), str) and key:
            return key
    if error.detail and (missing := _MISSING.match(error.detail)):
        return missing.group(1)
    return None


def _http_error(error: HTTPException) -> ProblemDetailsException:
    status = error.status_code
    kind = _HTTP_KINDS.get(status, f"http-{status}")
    extra: dict[str, Any] | None
    if isinstance(error.extra, dict):
        extra = error.extra
    elif error.extra:
        extra = {"errors": error.extra}
    else:
        extra = None
    if status == 400 and (field := _field_of(error)) is not None:
        extra = {**(extra or {}), "field": field}
    return ProblemDetailsException(
        status_code=status,
        type_=PROBLEMS + kind,
        title=HTTPStatus(status).phrase,
        detail=error.detail,
        extra=extra,
        headers=error.headers,
    )


def _database_unavailable(error: Exception) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=503,
        type_=PROBLEMS + "database-unavailable",
        title="Database unavailable",
        detail=str(error) or "the database does not answer; try again shortly",
        headers=RETRY_AFTER,
    )


def _connection_lost(error: Exception) -> ProblemDetailsException:
    return _database_unavailable(
        DatabaseUnavailable(f"the database does not answer ({type(error).__name__})")
    )


def _read_only(error: Exception) -> ProblemDetailsException:
    return _database_unavailable(
        DatabaseUnavailable(f"the database is read-only just now ({error}); try again shortly")
    )


def _store_busy(error: Exception) -> ProblemDetailsException:
    # The events table lock was not granted in time, even after retries (a stuck session).
    return _database_unavailable(
        DatabaseUnavailable("the event store is busy (its lock was not granted in time)")
    )


def _database_full(error: Exception) -> ProblemDetailsException:
    return _database_unavailable(
        DatabaseUnavailable(f"the database cannot take more now ({type(error).__name__})")
    )


def _domain_error(error: DomainError) -> ProblemDetailsException:
    if isinstance(error, NotPermitted):
        return ProblemDetailsException(
            status_code=403, type_=PROBLEMS + "forbidden", title="Forbidden", detail=str(error)
        )
    if isinstance(error, NotFound):
        return ProblemDetailsException(
            status_code=404, type_=PROBLEMS + "not-found", title="Not found", detail=str(error)
        )
    if isinstance(error, ValidationError):
        return ProblemDetailsException(
            status_code=400,
            type_=PROBLEMS + "invalid-field",
            title="Invalid field",
            detail=str(error),
            extra={"field": error.field},
        )
    if isinstance(error, StaleVersion):
        return ProblemDetailsException(
            status_code=412,
            type_=PROBLEMS + "version-mismatch",
            title="If-Match does not match the current version",
            detail=str(error),
            extra={"current_version": error.current_version},
        )
    if isinstance(error, ConcurrencyConflict):
        return ProblemDetailsException(
            status_code=409,
            type_=PROBLEMS + "conflict",
            title="Changed concurrently",
            detail=str(error),
            extra={"current_version": error.current_version},
        )
    if isinstance(error, KeyTaken):
        return ProblemDetailsException(
            status_code=409, type_=PROBLEMS + "taken", title="Already taken", detail=str(error)
        )
    if isinstance(error, InvalidTransition):
        return ProblemDetailsException(
            status_code=422,
            type_=PROBLEMS + "invalid-transition",
            title="Impossible in the current state",
            detail=str(error),
            extra={"current_state": error.state, "action": error.action},
        )
    return ProblemDetailsException(
        status_code=422, type_=PROBLEMS + "rule-broken", title="Not allowed", detail=str(error)
    )


def _invalid_query(error: InvalidQuery) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=400,
        type_=PROBLEMS + "invalid-field",
        title="Invalid field",
        detail=str(error),
        extra={"field": error.field},
    )


def _unstorable(error: Exception) -> ProblemDetailsException:
    # PostgreSQL refused a value the request carried (e.g. a NUL byte in a search term).
    return ProblemDetailsException(
        status_code=400,
        type_=PROBLEMS + "invalid-value",
        title="Invalid value",
        detail=f"a value in the request cannot be used: {error}",
    )


def _too_deep(error: RecursionError) -> ProblemDetailsException:
    # Litestar decodes the JSON body before converting it; msgspec stops at its depth limit.
    return ProblemDetailsException(
        status_code=400,
        type_=PROBLEMS + "invalid-body",
        title="Invalid body",
        detail="the request body is nested too deeply",
    )


def _missing_table(error: asyncpg.UndefinedTableError) -> ProblemDetailsException:
    if 'relation "read.' in str(error):
        # A new database: the projections have not created their read models yet.
        return _database_unavailable(
            DatabaseUnavailable("the read models are still being built; try again shortly")
        )
    return ProblemDetailsException(
        status_code=500,
        type_=PROBLEMS + "internal-error",
        title="Internal Server Error",
        detail="the server failed; the error is in its log",
    )


def _out_of_range(error: OverflowError) -> ProblemDetailsException:
    # Date arithmetic on a value the request carried (a window ending in year 9999) left the
    # calendar: the request asked for something no answer can hold.
    return ProblemDetailsException(
        status_code=400,
        type_=PROBLEMS + "invalid-value",
        title="Invalid value",
        detail=f"a value in the request is out of range: {error}",
    )


def _not_utf8(error: UnicodeDecodeError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=400,
        type_=PROBLEMS + "invalid-body",
        title="Invalid body",
        detail=f"the request body is not valid UTF-8 (at byte {error.start})",
    )


def _webhook_error(error: WebhookError) -> ProblemDetailsException:
    extra = {"field": error.field} if isinstance(error, InvalidConfiguration) else None
    return ProblemDetailsException(
        status_code=error.status_code,
        type_=PROBLEMS + error.slug,
        title=error.title,
        detail=str(error),
        extra=extra,
    )


def answered_as(error: ConcurrencyConflict, *, if_match: bool) -> ConcurrencyConflict:
    """The conflict a write is answered for: one that sent If-Match and lost a race after
    its version check has the same answer as one whose check failed, as its precondition no
    longer holds (412, whatever the timing); without If-Match, 409."""
    if if_match and not isinstance(error, StaleVersion):
        return StaleVersion(str(error), current_version=error.current_version)
    return error


def _conflict(request: Request[Any, Any, Any], error: ConcurrencyConflict) -> Response[Any]:
    answered = answered_as(error, if_match="if-match" in request.headers)
    return _domain_error(answered).to_response(request)


class _ProblemDetailsPlugin(ProblemDetailsPlugin):
    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config = super().on_app_init(app_config)
        # Needs the request (was If-Match sent?), which the exception map does not pass.
        app_config.exception_handlers[ConcurrencyConflict] = _conflict
        return app_config


_CONVERSIONS: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
    HTTPException: _http_error,
    DatabaseUnavailable: _database_unavailable,
    DomainError: _domain_error,
    InvalidQuery: _invalid_query,
    WebhookError: _webhook_error,
    OSError: _connection_lost,
    asyncpg.PostgresConnectionError: _connection_lost,
    asyncpg.InterfaceError: _connection_lost,
    asyncpg.CannotConnectNowError: _connection_lost,
    asyncpg.InternalClientError: _connection_lost,
    asyncpg.OperatorInterventionError: _connection_lost,
    asyncpg.IdleInTransactionSessionTimeoutError: _connection_lost,
    asyncpg.LockNotAvailableError: _store_busy,
    asyncpg.InsufficientResourcesError: _database_full,
    asyncpg.ReadOnlySQLTransactionError: _read_only,
    asyncpg.DataError: _unstorable,
    RecursionError: _too_deep,
    asyncpg.UndefinedTableError: _missing_table,
    UnicodeDecodeError: _not_utf8,
    OverflowError: _out_of_range,
}


def status_of(error: BaseException, *, if_match: bool = False) -> int:
    """The status the answer to `error` has (500 for anything unmapped), for a request that
    sent If-Match or not (`answered_as`)."""
    if isinstance(error, ConcurrencyConflict):
        error = answered_as(error, if_match=if_match)
    if isinstance(error, HTTPException):
        return error.status_code
    for kind in type(error).__mro__:
        convert = _CONVERSIONS.get(kind)
        if convert is not None:
            return convert(error).status_code
    return 500


def status_in(error: BaseException, scope: Mapping[str, Any]) -> int:
    """`status_of` for the request of ASGI `scope` (whether it sent If-Match)."""
    if_match = any(name == b"if-match" for name, _ in scope.get("headers", ()))
    return status_of(error, if_match=if_match)


def problem_details_plugin() -> ProblemDetailsPlugin:
    """Every HTTP error, and each mapped exception, answered as application/problem+json."""
    # Conflicts go through `_conflict` (412 when If-Match was sent), which needs the request.
    return _ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=_CONVERSIONS))
