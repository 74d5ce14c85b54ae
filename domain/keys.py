"""Human keys (`FB-1042`, `DEC-87`): short, stable names people write in commits."""

from __future__ import annotations

import re
from uuid import UUID

from domain.errors import ValidationError

FEEDBACK_PREFIX = "FB"
DECISION_PREFIX = "DEC"
PREFIXES = (FEEDBACK_PREFIX, DECISION_PREFIX)

_KEY = re.compile(r"^\s*(?P<prefix>[A-Za-z]+)-(?P<number>[0-9]+)\s*$")


def format_key(prefix: str, number: int) -> str:
    """The canonical key, e.g. `format_key("FB", 12) == "FB-12"`."""
    return f"{prefix}-{number}"


def parse_key(text: str) -> tuple[str, int] | None:
    """(prefix, number) of a key in any letter case, or None when `text` is not a key."""
    match = _KEY.match(text)
    if match is None or match["prefix"].upper() not in PREFIXES:
        return None
    number = int(match["number"])
    if number < 1:
        return None
    return match["prefix"].upper(), number


def parse_ref(ref: str | UUID, prefix: str) -> UUID | str:
    """An aggregate reference as a UUID, or as the canonical human key with `prefix`.

    Raises `ValidationError` when `ref` is neither a UUID nor a key with that prefix.
    """
    if isinstance(ref, UUID):
        return ref
    parsed = parse_key(ref)
    if parsed is not None:
        if parsed[0] != prefix:
            raise ValidationError("ref", f"{ref!r} is not a {prefix}-<n> key")
        return format_key(*parsed)
    try:
        return UUID(ref.strip())
    except ValueError:
        raise ValidationError("ref", f"{ref!r} is neither an id nor a {prefix}-<n> key") from None
