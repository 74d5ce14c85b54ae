"""Which status an event leads to, for any aggregate with a life cycle (one lookup for the
read models, the event stream and the API)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain import decision, feedback
from domain.vocabulary import DecisionStatus, FeedbackStatus

STATUS_AFTER: Mapping[type[Any], FeedbackStatus | DecisionStatus] = {
    **feedback.STATUS_AFTER,
    **decision.STATUS_AFTER,
}


def status_after(event: object) -> FeedbackStatus | DecisionStatus | None:
    """The status `event` leads its aggregate to, or None when it leaves it unchanged."""
    return STATUS_AFTER.get(type(event))
