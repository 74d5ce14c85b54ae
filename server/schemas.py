"""The one base class of every HTTP request and response body, and shared bodies."""

from __future__ import annotations

from uuid import UUID

import msgspec
from litestar.openapi import ResponseSpec

from domain.services.base import Written


class Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of request and response bodies: snake_case fields, unknown fields rejected."""


class WriteResult(Schema):
    """What every write answers: the aggregate, its new version and the position of the
    write's last event (pass it as `?after=` to read your own write)."""

    id: UUID
    version: int
    position: int | None
    key: str | None = None
    status: str | None = None


def write_result(written: Written) -> WriteResult:
    """The `WriteResult` of a service's `Written` answer (with the status it left)."""
    return WriteResult(
        id=written.id,
        key=written.key,
        version=written.version,
        position=written.position,
        status=written.status,
    )


def already_recorded(data: type) -> dict[int, ResponseSpec]:
    """The 200 of an idempotent create: the same thing again answers the existing one."""
    return {
        200: ResponseSpec(
            data,
            description="Already recorded: the existing one, unchanged",
            generate_examples=False,
        )
    }
