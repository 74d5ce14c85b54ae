"""Checks on times, texts and names that every aggregate applies to its commands' input."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from domain.errors import ValidationError

#: How far ahead of our clock a reported time may lie (other systems' clocks drift).
MAX_CLOCK_SKEW = timedelta(minutes=10)
#: Nothing Loopline tracks happened before this.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)

MAX_TITLE = 200
MAX_TEXT = 10_000
MAX_REASON = 2_000
MAX_NAME = 100
MAX_TAG = 50
MAX_TAGS = 20

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w .:/+-]*$")
# C0 controls other than tab, newline and carriage return, and DEL: nothing a person types,
# and NUL cannot be stored in PostgreSQL text at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def utcnow() -> datetime:
    """Now, tz-aware in UTC (the default for every "when it happened")."""
    return datetime.now(UTC)


def as_utc(value: datetime | None, field: str = "time") -> datetime:
    """`value` converted to UTC, or now when None; naive datetimes, and times whose UTC
    equivalent Python cannot hold (`0001-01-01T01:00:00+03:00`), are refused naming `field`."""
    if value is None:
        return utcnow()
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "must carry a time zone")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValidationError(
            field, f"must lie between {EARLIEST.date().isoformat()} and now"
        ) from None


def check_when(field: str, value: datetime) -> None:
    """Raise unless `value` is tz-aware UTC, not before 1990 and not in the future."""
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ValidationError(field, "must be a UTC time with its time zone")
    if value < EARLIEST:
        raise ValidationError(field, f"must not be before {EARLIEST.date().isoformat()}")
    if value > utcnow() + MAX_CLOCK_SKEW:
        raise ValidationError(field, "must not lie in the future")


def check_order(field: str, earlier: datetime, later: datetime) -> None:
    """Raise when `later` comes before `earlier`."""
    if later < earlier:
        raise ValidationError(field, "must not come before the time it follows")


def check_text(field: str, value: str, *, max_length: int, min_length: int = 1) -> None:
    """Raise unless `value` is a string whose stripped length lies within the bounds."""
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    if _CONTROL.search(value):
        raise ValidationError(field, "must not contain control characters such as NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field, "must be valid Unicode (no lone surrogates)") from None
    length = len(value.strip())
    if length < min_length:
        raise ValidationError(field, "must not be empty" if min_length == 1 else "is too short")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")


def check_optional_text(field: str, value: str | None, *, max_length: int) -> None:
    """Raise unless `value` is None or non-empty text within `max_length`."""
    if value is not None:
        check_text(field, value, max_length=max_length)


def check_slug(field: str, value: str) -> None:
    """Raise unless `value` is a lowercase slug (letters, digits, single hyphens)."""
    check_text(field, value, max_length=MAX_NAME)
    if not _SLUG.match(value):
        raise ValidationError(field, "must be lowercase letters and digits joined by hyphens")


def check_tags(field: str, tags: tuple[str, ...]) -> None:
    """Raise unless `tags` is a tuple of at most 20 distinct short tags."""
    if not isinstance(tags, tuple):
        raise ValidationError(field, "must be a tuple")
    if len(tags) > MAX_TAGS:
        raise ValidationError(field, f"must hold at most {MAX_TAGS} tags")
    if len(set(tags)) != len(tags):
        raise ValidationError(field, "must not repeat a tag")
    for tag in tags:
        check_text(field, tag, max_length=MAX_TAG)
        if not _TAG.match(tag):
            raise ValidationError(field, f"{tag!r} is not a valid tag")


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags stripped, lowercased and de-duplicated in their given order."""
    seen: dict[str, None] = {}
    for tag in tags:
        seen.setdefault(tag.strip().lower(), None)
    return tuple(seen)
