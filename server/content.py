"""Request bodies are JSON: anything else is refused with 415 before a handler runs.

Webhook receivers are exempt: they verify and store the raw bytes senders sign (GitHub can
send form-encoded deliveries).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException

_WRITES = frozenset({"POST", "PUT", "PATCH"})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def require_json_bodies(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook: 415 for a non-empty body that is not declared JSON."""
    if request.method not in _WRITES or request.url.path.startswith("/webhooks/"):
        return
    headers = request.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return
    content_type = headers.get("content-type", "")
    if not _is_json(content_type):
        raise HTTPException(
            status_code=415,
            detail=f"send the body as application/json, not {content_type or 'untyped'}",
        )
