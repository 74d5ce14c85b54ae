"""The life-cycle vocabulary, once: statuses, channels and impact levels as `StrEnum`s.

The API publishes these as enums (OpenAPI), the read models store their values, and the
terminal UI learns them from `GET /api/vocabulary`. Which event leads to which status is
said next to each aggregate (`domain.feedback.STATUS_AFTER`, `domain.decision.STATUS_AFTER`)
and joined in `domain.lifecycle`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from domain.errors import ValidationError

E = TypeVar("E", bound=StrEnum)


class Channel(StrEnum):
    """Where feedback reaches us, a fixed set so reports group reliably."""

    WEB = "web"  # in-product widget or site form
    CHAT = "chat"  # live chat, messaging
    EMAIL = "email"
    PHONE = "phone"  # calls, voicemail
    SOCIAL = "social"  # public posts, reviews
    SURVEY = "survey"  # NPS/CSAT answers
    SUPPORT = "support"  # support tickets
    SALES = "sales"  # what prospects and account managers hear
    INTERNAL = "internal"  # our own people


class Impact(StrEnum):
    """How much the reported problem or wish matters, set at triage."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class FeedbackStatus(StrEnum):
    """Where a feedback item stands: received → triaged → planned → shipped → closed, or a
    side exit (declined, duplicate, deferred)."""

    NEW = "new"
    TRIAGED = "triaged"
    PLANNED = "planned"
    SHIPPED = "shipped"
    CLOSED = "closed"
    DECLINED = "declined"
    DUPLICATE = "duplicate"
    DEFERRED = "deferred"


class DecisionStatus(StrEnum):
    """Where a decision stands: proposed → accepted → in progress → shipped, or declined,
    or superseded by another decision."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    SHIPPED = "shipped"
    DECLINED = "declined"
    SUPERSEDED = "superseded"


class IncrementStatus(StrEnum):
    """How a shipped increment ended: it succeeded, failed, or was rolled back later."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"


class IncidentStatus(StrEnum):
    """Whether a production incident is still open."""

    OPEN = "open"
    RESOLVED = "resolved"


#: NPS bands: promoters score 9-10, passives 7-8, detractors 0-6 (below `PASSIVE`).
PROMOTER = 9
PASSIVE = 7

#: Feedback not yet resolved: its open age is the aging work in progress PMs watch.
OPEN_FEEDBACK = frozenset(
    {FeedbackStatus.NEW, FeedbackStatus.TRIAGED, FeedbackStatus.PLANNED, FeedbackStatus.DEFERRED}
)
#: Feedback an increment may still mark shipped (the unresolved statuses).
SHIPPABLE = OPEN_FEEDBACK
#: Feedback a team may (re)triage, defer, or mark as a duplicate.
TRIAGEABLE = frozenset({FeedbackStatus.NEW, FeedbackStatus.TRIAGED, FeedbackStatus.DEFERRED})
#: Decisions that sit in their team's ranked backlog.
IN_BACKLOG = frozenset({DecisionStatus.ACCEPTED, DecisionStatus.IN_PROGRESS})
#: Decisions that can still change course (the backlog shows these unless told otherwise).
OPEN_DECISIONS = frozenset({DecisionStatus.PROPOSED, *IN_BACKLOG})


def in_order(members: Iterable[E]) -> tuple[E, ...]:
    """`members` in their enum's declaration order (stable SQL, docs and answers)."""
    chosen = list(members)
    if not chosen:
        return ()
    return tuple(m for m in type(chosen[0]) if m in chosen)


def sql_list(members: Iterable[StrEnum]) -> str:
    """`('a', 'b')` for a SQL `IN`, written from the enums (their values are fixed words)."""
    return "(" + ", ".join(f"'{m.value}'" for m in in_order(members)) + ")"


def parse(enum: type[E], field: str, value: str) -> E:
    """`value` as a member of `enum`; raises `ValidationError` naming `field` otherwise."""
    try:
        return enum(value)
    except (ValueError, TypeError):
        choices = ", ".join(enum)
        raise ValidationError(field, f"unknown {field} {value!r}; one of {choices}") from None


def statuses_after(aggregate: type[Any], **after: E) -> Mapping[type[Any], E]:
    """`{event class: status}` for `aggregate`'s events named as keywords; a misspelt name
    fails at import. (The classes are made by `@event`, so they are looked up by name once.)"""
    found: dict[type[Any], E] = {}
    for name, status in after.items():
        cls = getattr(aggregate, name, None)
        if not isinstance(cls, type):
            raise AttributeError(f"{aggregate.__qualname__} has no event class {name}")
        found[cls] = status
    return found
