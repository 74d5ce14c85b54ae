"""Errors to RFC 9457 problem+json, in exactly one place."""

from __future__ import annotations

from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from infra.database import DatabaseUnavailable


def _database_unavailable(error: DatabaseUnavailable) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=503,
        type_="https://loopline.dev/problems/database-unavailable",
        title="Database unavailable",
        detail=str(error),
    )


def problem_details_plugin() -> ProblemDetailsPlugin:
    """Every HTTP error, and each mapped exception, answered as application/problem+json."""
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            enable_for_all_http_exceptions=True,
            exception_to_problem_detail_map={DatabaseUnavailable: _database_unavailable},
        )
    )
