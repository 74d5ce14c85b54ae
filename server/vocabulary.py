"""The life-cycle vocabulary, for clients that show or filter by it (the terminal UI)."""

from __future__ import annotations

from litestar import Controller, get

from domain import vocabulary as v
from server.schemas import Schema


class Vocabulary(Schema):
    """Every word of the life cycle, in order; the OpenAPI document lists them as enums."""

    feedback_statuses: list[v.FeedbackStatus]
    inbox_status: v.FeedbackStatus
    """Where a newly received item waits for triage."""
    open_feedback_statuses: list[v.FeedbackStatus]
    triageable_statuses: list[v.FeedbackStatus]
    decision_statuses: list[v.DecisionStatus]
    open_decision_statuses: list[v.DecisionStatus]
    channels: list[v.Channel]
    impacts: list[v.Impact]


VOCABULARY = Vocabulary(
    feedback_statuses=list(v.FeedbackStatus),
    inbox_status=v.FeedbackStatus.NEW,
    open_feedback_statuses=list(v.in_order(v.OPEN_FEEDBACK)),
    triageable_statuses=list(v.in_order(v.TRIAGEABLE)),
    decision_statuses=list(v.DecisionStatus),
    open_decision_statuses=list(v.in_order(v.OPEN_DECISIONS)),
    channels=list(v.Channel),
    impacts=list(v.Impact),
)


class VocabularyController(Controller):
    path = "/api/vocabulary"
    tags = ["vocabulary"]

    @get(
        operation_id="getVocabulary",
        summary="Statuses, channels and impact levels",
        description=(
            "The words of the life cycle as the domain defines them: feedback and decision "
            "statuses (and which count as open), channels and impact levels."
        ),
        sync_to_thread=False,
    )
    def vocabulary(self) -> Vocabulary:
        return VOCABULARY
