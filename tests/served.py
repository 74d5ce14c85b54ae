"""The OpenAPI schema the server serves, built without a database (for schemathesis)."""

from __future__ import annotations

from typing import Any

from infra.settings import load_settings
from server.app import create_app


def openapi() -> dict[str, Any]:
    """The schema the server serves at /schema/openapi.json, built without a database."""
    app = create_app(load_settings({}, database_url="postgresql://unused/unused"))
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document
