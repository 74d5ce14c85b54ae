"""What every list and detail query shares: the row and page types, keyset cursors, the
page limit, the team and id filters, and the error a query raises for a parameter it
cannot use. The queries themselves live with the read model that owns their tables."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class InvalidQuery(ValueError):
    """Raised when a query parameter cannot be used: an unknown choice or a bad cursor."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every read-side answer: snake_case fields, keyword-only."""


class Page(Row, Generic[T], frozen=True, kw_only=True):
    """One page of a list, newest first; pass `next_cursor` back for the next page (None
    on the last page)."""

    items: list[T]
    next_cursor: str | None


# --- cursors ------------------------------------------------------------------------


def encode_cursor(at: datetime, tiebreak: int | UUID) -> str:
    """An opaque cursor for the keyset (`at`, `tiebreak`) of the last row of a page."""
    raw = msgspec.json.encode([at.isoformat(), str(tiebreak)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The keyset inside a cursor; raises `InvalidQuery` for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, tiebreak = msgspec.json.decode(raw, type=tuple[datetime, str])
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise InvalidQuery("cursor", "not a cursor this API issued") from None
    if at.tzinfo is None:
        raise InvalidQuery("cursor", "not a cursor this API issued")
    return at, tiebreak


def team_ref(team: str | UUID | None) -> str | None:
    """A team id or slug as the queries compare it (`slug = $n OR id::text = $n`)."""
    if team is None:
        return None
    if isinstance(team, UUID):
        return str(team)
    try:
        return str(UUID(team))
    except ValueError:
        return team.strip().lower()


def uuid_text(value: str | UUID | None) -> str | None:
    """An id as text for `id::text = $n` filters; anything unparsable matches nothing."""
    if value is None:
        return None
    if isinstance(value, UUID):
        return str(value)
    try:
        return str(UUID(value))
    except ValueError:
        return value


def statuses(status: str | Sequence[str] | None) -> list[str] | None:
    if status is None:
        return None
    return [status] if isinstance(status, str) else list(status)


def page_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery("limit", f"must be from 1 to {MAX_LIMIT}")
    return limit


def cursor_uuid(raw: str) -> UUID:
    """The id part of a cursor's keyset; raises `InvalidQuery` when it is not an id."""
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidQuery("cursor", "not a cursor this API issued") from None


def decode(row: Any, type_: type[T]) -> T:
    """A fetched row as the row type `type_`."""
    return msgspec.convert(dict(row), type_)
