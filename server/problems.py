"""Errors to RFC 9457 problem+json, in exactly one place."""

from __future__ import annotations

import asyncpg
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

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
from projections.queries import InvalidQuery
from server.webhooks.errors import InvalidConfiguration, WebhookError

PROBLEMS = "https://loopline.dev/problems/"
RETRY_AFTER = {"Retry-After": "5"}


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
        title="Invalid query parameter",
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
    return ProblemDetailsException(status_code=500, title="Internal Server Error")


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


def problem_details_plugin() -> ProblemDetailsPlugin:
    """Every HTTP error, and each mapped exception, answered as application/problem+json."""
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            enable_for_all_http_exceptions=True,
            exception_to_problem_detail_map={
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
            },
        )
    )
