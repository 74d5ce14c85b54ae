"""Feedback: receive it, list and search it, and move it through its life cycle."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, post
from litestar.config.response_cache import CACHE_FOREVER
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, KwargDefinition, PathParameter, QueryParameter

from domain import services
from domain.services.views import FeedbackView
from domain.vocabulary import Channel, FeedbackStatus, Impact
from infra.eventstore import PostgresEventStore
from projections import feedback, similar
from server.dependencies import Change, Reader, answers
from server.history import HistoryEntry, history
from server.metrics import Customer, Segment
from server.schemas import Schema, WriteResult, already_recorded, write_result

# The read models a feedback list reads (teams by slug, outcomes through decisions).

Key = Annotated[str, PathParameter(description="The item's key (FB-12) or id.")]


class FeedbackCreate(Schema):
    text: str
    channel: Channel
    touchpoint: str = "product"
    customer_ref: str | None = None
    segment: str | None = None
    nps: int | None = None
    nps_reason: str | None = None
    external_ref: str | None = None
    received_at: datetime | None = None


class Triage(Schema):
    team: str
    tags: list[str] = msgspec.field(default_factory=list)
    impact: Impact | None = None
    outcome: UUID | None = None


class Duplicate(Schema):
    of: str


class Plan(Schema):
    decision: str


class Decline(Schema):
    reason: str


class Defer(Schema):
    until: date
    reason: str | None = None


class Reopen(Schema):
    reason: str


class CloseLoop(Schema):
    how: str
    note: str | None = None


class FollowUp(Schema):
    how: str
    note: str | None = None


class Undo(Schema):
    before_version: int | None = None


class FeedbackDetail(Schema):
    item: Annotated[FeedbackView, KwargDefinition(schema_component_key="Feedback")]
    history: list[HistoryEntry]


class FeedbackController(Controller):
    path = "/api/feedback"
    tags = ["feedback"]

    @post(
        operation_id="receiveFeedback",
        summary="Receive feedback",
        description=(
            "Records what a customer told us. Idempotent on (channel, external_ref): the same "
            "pair again answers the existing item with 200."
        ),
        status_code=201,
        responses=already_recorded(WriteResult),
    )
    async def receive(
        self, data: JSONBody[FeedbackCreate], store: NamedDependency[PostgresEventStore]
    ) -> Response[WriteResult]:
        written = await services.receive_feedback(
            store,
            channel=data.channel,
            text=data.text,
            touchpoint=data.touchpoint,
            customer_ref=data.customer_ref,
            segment=data.segment,
            nps=data.nps,
            nps_reason=data.nps_reason,
            external_ref=data.external_ref,
            received_at=data.received_at,
        )
        return Response(write_result(written), status_code=201 if written.created else 200)

    @get(
        operation_id="listFeedback",
        responses=answers(feedback.FeedbackPage),
        cache=CACHE_FOREVER,  # the whole response, while the read models stay (server/answers.py)
        summary="List and search feedback",
        description="Newest first, cursor-paginated.",
    )
    async def list_feedback(
        self,
        reader: NamedDependency[Reader],
        team: FromQuery[str | None] = None,
        status: FromQuery[FeedbackStatus | None] = None,
        channel: FromQuery[Channel | None] = None,
        touchpoint: FromQuery[str | None] = None,
        outcome: FromQuery[UUID | None] = None,
        q: Annotated[str | None, QueryParameter(description="Full-text search.")] = None,
        received_from: FromQuery[datetime | None] = None,
        received_to: FromQuery[datetime | None] = None,
        segment: Segment = None,
        customer: Customer = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    ) -> Response[bytes]:
        # Inboxes and dashboards ask for the same pages again and again: answers are kept
        # until a read model moves on (projections/cache.py).
        return await reader.answer(
            feedback.list_feedback,
            team=team,
            status=status,
            channel=channel,
            touchpoint=touchpoint,
            outcome=outcome,
            q=q,
            received_from=received_from,
            received_to=received_to,
            segment=segment,
            customer=customer,
            cursor=cursor,
            limit=limit,
        )

    @get(
        "/{key:str}",
        operation_id="getFeedback",
        summary="One feedback item with its history",
        description=(
            "`as_of` answers the item as it stood in the world at that time (by when things "
            "happened: received, triaged, decided, shipped, told; corrections and what they "
            "cancel left out); `known_at` answers what Loopline had recorded by that time. "
            "Both together: what Loopline knew at `known_at` about the world at `as_of`. "
            "Before it existed: 404."
        ),
    )
    async def get_item(
        self,
        key: Key,
        store: NamedDependency[PostgresEventStore],
        caught_up: NamedDependency[int | None],
        as_of: FromQuery[datetime | None] = None,
        known_at: FromQuery[datetime | None] = None,
    ) -> FeedbackDetail:
        item = await services.get_feedback(store, key, as_of=as_of, known_at=known_at)
        entries = await history(store, item.id, as_of=as_of, known_at=known_at)
        return FeedbackDetail(item=item, history=entries)

    @get(
        "/{key:str}/similar",
        operation_id="listSimilarFeedback",
        responses=answers(similar.SimilarItems),
        summary="Items this one may duplicate",
        description=(
            "Open and recent items (not duplicates) ranked by how alike their text is, with "
            "a score from 0 to 1: candidates are the items sharing the most telling words "
            "(each English word weighs by how few items use it, the rarest read first, the "
            "commonest left out but for two of them close together; typo corrections and "
            "words customers use for the same "
            "thing join), re-ranked by fuzzy text similarity and that weight, nudged by the "
            "same customer and channel."
        ),
    )
    async def similar_items(
        self,
        key: Key,
        reader: NamedDependency[Reader],
        limit: Annotated[
            int, QueryParameter(ge=1, le=similar.MAX_LIMIT, description="At most this many.")
        ] = 5,
    ) -> Response[bytes]:
        return await reader.answer(similar.suggestions, key, limit=limit)

    @post(
        "/{key:str}/triage",
        operation_id="triageFeedback",
        summary="Triage into a team",
        description="Assigns a new or reopened item to a team, with tags, its impact and the "
        "outcome it concerns; a member may triage only into their own teams.",
    )
    async def triage(
        self,
        key: Key,
        data: JSONBody[Triage],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(
            services.triage_feedback,
            key,
            team=data.team,
            tags=data.tags,
            impact=data.impact,
            outcome_id=data.outcome,
        )

    @post(
        "/{key:str}/duplicate",
        operation_id="markFeedbackDuplicate",
        summary="Mark duplicate",
        description="Marks the item a duplicate of another (`of`: a key or id); its demand "
        "moves to the original, which counts once in lead times.",
    )
    async def duplicate(
        self,
        key: Key,
        data: JSONBody[Duplicate],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.mark_duplicate, key, original=data.of)

    @post(
        "/{key:str}/plan",
        operation_id="planFeedback",
        summary="Plan under a decision",
        description="Links the item to an accepted decision: it is planned, and ships when an "
        "increment carrying that decision reaches production.",
    )
    async def plan(
        self,
        key: Key,
        data: JSONBody[Plan],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.plan_feedback, key, decision=data.decision)

    @post(
        "/{key:str}/decline",
        operation_id="declineFeedback",
        summary="Decline with a reason",
        description="Resolves the item as declined; the reason is kept in its history and "
        "can be told to the customer.",
    )
    async def decline(
        self,
        key: Key,
        data: JSONBody[Decline],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.decline_feedback, key, reason=data.reason)

    @post(
        "/{key:str}/defer",
        operation_id="deferFeedback",
        summary="Defer until a date",
        description="Sets the item aside until a date, when it returns to triage.",
    )
    async def defer(
        self,
        key: Key,
        data: JSONBody[Defer],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(
            services.defer_feedback, key, until=data.until, reason=data.reason
        )

    @post(
        "/{key:str}/reopen",
        operation_id="reopenFeedback",
        summary="Reopen with a reason",
        description="Reopens a resolved item (e.g. the customer says it is not fixed); it "
        "goes back to triage.",
    )
    async def reopen(
        self,
        key: Key,
        data: JSONBody[Reopen],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.reopen_feedback, key, reason=data.reason)

    @post(
        "/{key:str}/close-loop",
        operation_id="closeFeedbackLoop",
        summary="Close the loop (the customer was told)",
        description="Records that the customer was told what became of what they said "
        "(`how`: email, call, …), which ends its lead time to close the loop.",
    )
    async def close_loop(
        self,
        key: Key,
        data: JSONBody[CloseLoop],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.close_feedback_loop, key, how=data.how, note=data.note)

    @post(
        "/{key:str}/follow-up",
        operation_id="followUpFeedback",
        summary="Record that the customer was contacted",
        description="Records that someone contacted the customer about what they said "
        "(`how`: call, email, …), in any status: a detractor called back before anything "
        "shipped. The first contact (this, or closing the loop) ends the detractor's time "
        "to follow up (`/api/metrics/nps/follow-up-time`).",
    )
    async def follow_up(
        self,
        key: Key,
        data: JSONBody[FollowUp],
        change: NamedDependency[Change],
    ) -> WriteResult:
        return await change.apply(services.follow_up_feedback, key, how=data.how, note=data.note)

    @post(
        "/{key:str}/undo",
        operation_id="undoFeedback",
        summary="Undo the item's last change (or every change from a version on)",
        description=(
            "Records a correction that cancels the item's versions from `before_version` "
            "(default: its last version) on: the item returns to the state it had before, "
            "and every read model counts it as if the cancelled changes had not happened. "
            "Send `If-Match` with the version you saw."
        ),
    )
    async def undo(
        self,
        key: Key,
        change: NamedDependency[Change],
        data: JSONBody[Undo | None] = None,
    ) -> WriteResult:
        return await change.apply(
            services.undo_feedback,
            key,
            before_version=data.before_version if data is not None else None,
        )
