"""Request logging: a request id on every line and in `X-Request-ID`; problems logged by kind.

A client's mistake (4xx) is one INFO line with its status and detail; a database that is away
(503) one WARNING line; a server failure (other 5xx) an ERROR with its traceback. Nothing a
request carries is logged except its method, path and status, so tokens and webhook secrets
never reach the log.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.logging.config import StructLoggingConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from infra.logs import processors
from server.problems import status_in

REQUEST_ID = "x-request-id"
# A caller's id is kept only when it is short and plain (it is echoed into logs and headers).
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

logger = structlog.stdlib.get_logger("loopline.http")


def _log_problem(_: Any, scope: Scope, __: list[str]) -> None:
    """Litestar's hook for a raised exception (called while it is being handled)."""
    error = sys.exc_info()[1]
    if error is None:
        return
    status = status_in(error, scope)
    where = {"method": scope.get("method"), "path": scope.get("path"), "status": status}
    if status == 503:
        # The database is away (down, restarting, read-only) and every request meanwhile is
        # answered 503: one line each. Rendering a traceback for each would hold the process
        # busy just when it should reconnect (a postmaster restart under load took minutes).
        logger.warning("request deferred", **where, detail=_detail(error))
    elif status >= 500:
        logger.error("request failed", **where, exc_info=error)
    else:
        logger.info("request refused", **where, detail=_detail(error))


def _detail(error: BaseException) -> str:
    detail = getattr(error, "detail", None)
    return str(detail) if detail else str(error)


def logging_config() -> StructLoggingConfig:
    """structlog for Litestar's own logger, through the process's one format (infra.logs)."""
    return StructLoggingConfig(
        processors=processors(),
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        log_exceptions="always",
        exception_logging_handler=_log_problem,
    )


def with_request_id(app: ASGIApp) -> ASGIApp:
    """Wraps the whole app (outside Litestar's own error handling, so that refusals by the
    authentication middleware carry the id too)."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        # 128 random bits as 32 hex digits (a uuid4's text without its object).
        request_id = _incoming(scope) or os.urandom(16).hex()
        header = (_REQUEST_ID, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A new message, not the one given: a cached response's start message is
                # kept by the response cache, and would carry this id into later answers.
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        # bind/reset, not `bound_contextvars`: that one copies the whole context twice.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    return asgi


_REQUEST_ID = REQUEST_ID.encode()


def _incoming(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _REQUEST_ID:
            text = value.decode("latin-1")
            return text if _ACCEPTABLE_ID.fullmatch(text) else None
    return None
