"""The async HTTP client of the Loopline API that the terminal UI speaks (and nothing else)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import httpx
import msgspec
from httpx_sse import SSEError, aconnect_sse

T = TypeVar("T")

KEEPALIVE = 30.0
"""Seconds an idle connection to the server is kept for the next request."""


class ApiError(Exception):
    """Raised when the API answers with a problem (RFC 9457), or cannot be reached."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


class Unreachable(ApiError):
    """Raised when no server answers at the API's address."""


class Refused(ApiError):
    """Raised when the server refuses the token (401): retrying cannot help."""


class Problem(msgspec.Struct, kw_only=True):
    title: str = "Error"
    status: int = 0
    detail: str | None = None


class Model(msgspec.Struct, kw_only=True):
    """Base of what the TUI reads; fields the TUI does not use are ignored."""


class Vocabulary(Model):
    """The life-cycle words the API defines (`GET /api/vocabulary`): the TUI offers these
    and hard-codes none of them."""

    feedback_statuses: list[str]
    inbox_status: str
    channels: list[str]


class FeedbackItem(Model):
    """One row of the inbox (`GET /api/feedback`)."""

    id: UUID
    key: str
    status: str
    channel: str
    touchpoint: str
    text: str
    received_at: datetime
    version: int
    customer_ref: str | None = None
    segment: str | None = None
    nps: int | None = None
    nps_reason: str | None = None
    team_id: UUID | None = None
    team: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    impact: str | None = None
    decision: str | None = None
    deferred_until: date | None = None
    reason: str | None = None
    duplicate_of_key: str | None = None
    duplicates: int = 0
    demand: int = 1
    position: int = 0


class Page(Model, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class FeedbackPage(Model):
    """A page of the item list; `total` (first pages only) is how many items match."""

    items: list[FeedbackItem]
    next_cursor: str | None = None
    total: int | None = None


class Demand(Model):
    customer_ref: str | None = None
    received_at: datetime | None = None


class FeedbackView(Model):
    """One item as `GET /api/feedback/{key}` shows it (read from its events)."""

    id: UUID
    key: str
    version: int
    status: str
    channel: str
    touchpoint: str
    text: str
    received_at: datetime
    customer_ref: str | None = None
    segment: str | None = None
    nps: int | None = None
    nps_reason: str | None = None
    team_id: UUID | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    impact: str | None = None
    decision_id: UUID | None = None
    deferred_until: date | None = None
    reason: str | None = None
    duplicate_of: UUID | None = None
    duplicate_ids: list[UUID] = msgspec.field(default_factory=list)
    demand: list[Demand] = msgspec.field(default_factory=list)
    shipped_by: list[UUID] = msgspec.field(default_factory=list)
    shipped_at: datetime | None = None
    loop_closed_how: str | None = None


class HistoryEntry(Model):
    version: int
    event: str
    recorded_at: datetime
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class FeedbackDetail(Model):
    item: FeedbackView
    history: list[HistoryEntry] = msgspec.field(default_factory=list)


class WriteResult(Model):
    id: UUID
    version: int
    position: int | None = None
    key: str | None = None
    status: str | None = None


class Member(Model):
    handle: str
    skills: list[str] = msgspec.field(default_factory=list)


class Team(Model):
    id: UUID
    slug: str
    name: str
    members: list[Member] = msgspec.field(default_factory=list)
    repositories: list[str] = msgspec.field(default_factory=list)
    outcome_ids: list[UUID] = msgspec.field(default_factory=list)


class Decision(Model):
    """A decision of a team's ranked backlog, with its demand."""

    id: UUID
    key: str
    title: str
    status: str
    team: str | None = None
    rationale: str = ""
    rank: int | None = None
    feedback: list[str] = msgspec.field(default_factory=list)
    demand: int = 0
    customers: int = 0
    detractors: int = 0
    version: int = 0


class DecisionDetail(Model):
    decision: Decision


class Increment(Model):
    id: UUID
    service: str
    environment: str
    status: str
    finished_at: datetime
    team: str | None = None
    production: bool = True
    release_version: str | None = None
    commit_sha: str | None = None
    commits: int = 0
    feedback_refs: list[str] = msgspec.field(default_factory=list)
    decision_refs: list[str] = msgspec.field(default_factory=list)


class Incident(Model):
    id: UUID
    service: str
    title: str
    status: str
    opened_at: datetime
    team: str | None = None
    resolved_at: datetime | None = None
    caused_by_sha: str | None = None


class Outcome(Model):
    id: UUID
    statement: str
    measure: str = ""
    status: str = "active"
    teams: list[str] = msgspec.field(default_factory=list)


class LeadTimeGroup(Model):
    group: dict[str, str | None] = msgspec.field(default_factory=dict)
    count: int = 0
    mean: float | None = None
    p50: float | None = None
    p75: float | None = None
    p85: float | None = None
    p95: float | None = None


class LeadTimes(Model):
    measure: str
    groups: list[LeadTimeGroup] = msgspec.field(default_factory=list)


class DeploymentFrequency(Model):
    deployments: int = 0
    deployment_days: int = 0
    per_week: float | None = None
    tier: str | None = None
    tier_reason: str | None = None


class LeadTimeForChanges(Model):
    count: int = 0
    p50: float | None = None
    p85: float | None = None
    tier: str | None = None
    tier_reason: str | None = None


class ChangeFailureRate(Model):
    failed: int = 0
    deployments: int = 0
    rate: float | None = None
    tier: str | None = None
    tier_reason: str | None = None


class Recovery(Model):
    count: int = 0
    p50: float | None = None
    tier: str | None = None
    tier_reason: str | None = None


class Dora(Model):
    deployment_frequency: DeploymentFrequency = msgspec.field(default_factory=DeploymentFrequency)
    lead_time_for_changes: LeadTimeForChanges = msgspec.field(default_factory=LeadTimeForChanges)
    change_failure_rate: ChangeFailureRate = msgspec.field(default_factory=ChangeFailureRate)
    recovery_time: Recovery = msgspec.field(default_factory=Recovery)


class NpsGroup(Model):
    """NPS of one group (`GET /api/metrics/nps`): -100..100 with its 95 % margin in points."""

    group: dict[str, str | None] = msgspec.field(default_factory=dict)
    responses: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    nps: float | None = None
    margin: float | None = None


class Nps(Model):
    groups: list[NpsGroup] = msgspec.field(default_factory=list)


class WhyTag(Model):
    tag: str
    detractors: int = 0
    passives: int = 0
    promoters: int = 0
    examples: list[str] = msgspec.field(default_factory=list)


class WhyTerm(Model):
    term: str
    detractors: int = 0
    promoters: int = 0
    z: float = 0.0
    examples: list[str] = msgspec.field(default_factory=list)


class NpsWhy(Model):
    """The themes behind the score (`GET /api/metrics/nps/why`)."""

    responses: int = 0
    detractors: int = 0
    promoters: int = 0
    tags: list[WhyTag] = msgspec.field(default_factory=list)
    detractor_terms: list[WhyTerm] = msgspec.field(default_factory=list)
    promoter_terms: list[WhyTerm] = msgspec.field(default_factory=list)


class Detractor(Model):
    """A detractor still owed a follow-up; `item_key` is the item whose loop closing
    counts (its own, or a duplicate's original)."""

    key: str
    item_key: str
    score: int
    received_at: datetime
    waiting: float
    item_status: str | None = None
    why: str | None = None
    team: str | None = None
    customer_ref: str | None = None


class FollowUpQueue(Model):
    total: int = 0
    items: list[Detractor] = msgspec.field(default_factory=list)


class FollowUpGroup(Model):
    group: dict[str, str | None] = msgspec.field(default_factory=dict)
    detractors: int = 0
    followed_up: int = 0
    due: int = 0
    within_48h: int = 0
    share_within_48h: float | None = None
    p50: float | None = None
    p85: float | None = None


class FollowUps(Model):
    groups: list[FollowUpGroup] = msgspec.field(default_factory=list)


class TeamRef(Model):
    slug: str


class ShipFigures(Model):
    count: int = 0
    p50: float | None = None


class Scorecard(Model):
    """An outcome's scorecard (`GET /api/metrics/outcomes`)."""

    id: UUID
    statement: str
    measure: str = ""
    target: str | None = None
    status: str = "active"
    teams: list[TeamRef] = msgspec.field(default_factory=list)
    items: int = 0
    demand: int = 0
    customers: int = 0
    detractors: int = 0
    open_items: int = 0
    nps_responses: int = 0
    nps: float | None = None
    time_to_ship: ShipFigures = msgspec.field(default_factory=ShipFigures)


class Change(Model):
    """One change on the live stream (`GET /api/events/stream`)."""

    position: int
    aggregate: str
    event: str
    id: UUID
    version: int
    key: str | None = None
    team_id: UUID | None = None
    status: str | None = None


def _problem(response: httpx.Response) -> ApiError:
    try:
        problem = msgspec.json.decode(response.content, type=Problem)
    except (msgspec.DecodeError, msgspec.ValidationError):
        problem = Problem(title=response.reason_phrase or "Error")
    detail = problem.detail or problem.title or f"HTTP {response.status_code}"
    if response.status_code == 401:
        return Refused(401, problem.title, f"the server refused this token ({detail})")
    return ApiError(response.status_code, problem.title, detail)


def _query(params: Mapping[str, object | None]) -> dict[str, str]:
    return {k: str(v) for k, v in params.items() if v is not None and v != ""}


def _moment(when: datetime | None) -> str | None:
    """A time as the API's `from`/`to` take it: RFC 3339 with its offset."""
    return None if when is None else when.isoformat()


class Suggestion(Model):
    """An item a feedback item may duplicate (`GET /api/feedback/{key}/similar`)."""

    key: str
    score: float
    status: str
    text: str


class Suggestions(Model):
    key: str
    items: list[Suggestion]


class ApiClient:
    """The Loopline API over HTTP with a bearer token; every failure is an `ApiError`."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.transport = transport
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(
            base_url=self.url,
            headers=self.headers,
            timeout=timeout,
            transport=transport,
            # An idle connection is given up before the server's keep-alive ends (`loopline
            # serve`: 65 s; uvicorn's default, 5 s, equalled httpx's and raced it).
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        type_: type[T],
        *,
        params: Mapping[str, object | None] | None = None,
        body: object | None = None,
        version: int | None = None,
    ) -> T:
        headers = {"If-Match": str(version)} if version is not None else {}
        content = msgspec.json.encode(body) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        query = _query(params or {})
        try:
            try:
                response = await self.http.request(
                    method, path, params=query, content=content, headers=headers
                )
            except httpx.RemoteProtocolError:
                # A kept-alive connection the server closed as it was reused (a proxy's idle
                # timeout shorter than ours): a read is asked once more, on a new one. A
                # write is not (it may have been done); its error says so.
                if method != "GET":
                    raise
                response = await self.http.request(method, path, params=query, headers=headers)
        except httpx.TransportError as error:
            raise Unreachable(0, "Unreachable", f"no answer from {self.url} ({error})") from None
        if response.is_error:
            raise _problem(response)
        try:
            return msgspec.json.decode(response.content, type=type_)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise ApiError(response.status_code, "Unexpected answer", str(error)) from None

    async def _write(self, path: str, body: object, version: int | None = None) -> WriteResult:
        return await self._request("POST", path, WriteResult, body=body, version=version)

    # --- operations --------------------------------------------------------------------

    async def healthy(self) -> bool:
        try:
            response = await self.http.get("/healthz", timeout=3.0)
        except httpx.TransportError:
            return False
        return response.is_success

    # --- feedback ----------------------------------------------------------------------

    async def feedback(
        self,
        *,
        team: str | None = None,
        status: str | None = None,
        channel: str | None = None,
        touchpoint: str | None = None,
        q: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
        after: int | None = None,
    ) -> FeedbackPage:
        params = {
            "team": team,
            "status": status,
            "channel": channel,
            "touchpoint": touchpoint,
            "q": q,
            "cursor": cursor,
            "limit": limit,
            "after": after,
        }
        return await self._request("GET", "/api/feedback", FeedbackPage, params=params)

    async def feedback_item(self, key: str) -> FeedbackDetail:
        return await self._request("GET", f"/api/feedback/{key}", FeedbackDetail)

    async def similar(self, key: str, limit: int = 5) -> list[Suggestion]:
        """The items `key` may duplicate, most alike first (for the duplicate picker)."""
        path = f"/api/feedback/{key}/similar"
        found = await self._request("GET", path, Suggestions, params={"limit": limit})
        return found.items

    async def triage(
        self,
        key: str,
        team: str,
        *,
        tags: list[str] | None = None,
        impact: str | None = None,
        outcome: str | None = None,
        version: int | None = None,
    ) -> WriteResult:
        body: dict[str, object] = {"team": team, "tags": tags or []}
        if impact is not None:
            body["impact"] = impact
        if outcome is not None:
            body["outcome"] = outcome
        return await self._write(f"/api/feedback/{key}/triage", body, version)

    async def duplicate(self, key: str, of: str, *, version: int | None = None) -> WriteResult:
        return await self._write(f"/api/feedback/{key}/duplicate", {"of": of}, version)

    async def plan(self, key: str, decision: str, *, version: int | None = None) -> WriteResult:
        return await self._write(f"/api/feedback/{key}/plan", {"decision": decision}, version)

    async def decline(self, key: str, reason: str, *, version: int | None = None) -> WriteResult:
        return await self._write(f"/api/feedback/{key}/decline", {"reason": reason}, version)

    async def defer(
        self, key: str, until: date, reason: str | None = None, *, version: int | None = None
    ) -> WriteResult:
        body = {"until": until.isoformat(), "reason": reason}
        return await self._write(f"/api/feedback/{key}/defer", body, version)

    async def reopen(self, key: str, reason: str, *, version: int | None = None) -> WriteResult:
        return await self._write(f"/api/feedback/{key}/reopen", {"reason": reason}, version)

    async def undo(self, key: str, *, before_version: int, version: int) -> WriteResult:
        """Take back the item's changes from `before_version` on (one correction)."""
        body = {"before_version": before_version}
        return await self._write(f"/api/feedback/{key}/undo", body, version)

    async def close_loop(
        self, key: str, how: str, note: str | None = None, *, version: int | None = None
    ) -> WriteResult:
        body = {"how": how, "note": note}
        return await self._write(f"/api/feedback/{key}/close-loop", body, version)

    async def follow_up(
        self, key: str, how: str, note: str | None = None, *, version: int | None = None
    ) -> WriteResult:
        """Record that the customer was contacted (in any status: a detractor's call back)."""
        body = {"how": how, "note": note}
        return await self._write(f"/api/feedback/{key}/follow-up", body, version)

    # --- decisions ---------------------------------------------------------------------

    async def decisions(
        self, team: str | None = None, *, after: int | None = None
    ) -> list[Decision]:
        params = {"team": team, "after": after}
        return await self._request("GET", "/api/decisions", list[Decision], params=params)

    async def decision(self, key: str) -> Decision:
        found = await self._request("GET", f"/api/decisions/{key}", DecisionDetail)
        return found.decision

    async def propose_decision(
        self,
        team: str,
        title: str,
        rationale: str,
        feedback: list[str],
        *,
        options: list[str] | None = None,
        outcome: str | None = None,
    ) -> WriteResult:
        body = {
            "team": team,
            "title": title,
            "rationale": rationale,
            "feedback": feedback,
            "options": options or [],
            "outcome": outcome,
        }
        return await self._write("/api/decisions", body)

    async def accept_decision(self, key: str) -> WriteResult:
        return await self._write(f"/api/decisions/{key}/accept", {})

    async def decline_decision(self, key: str, rationale: str) -> WriteResult:
        return await self._write(f"/api/decisions/{key}/decline", {"rationale": rationale})

    async def supersede_decision(self, key: str, by: str) -> WriteResult:
        return await self._write(f"/api/decisions/{key}/supersede", {"by": by})

    async def rank_decision(self, key: str, position: int) -> WriteResult:
        return await self._write(f"/api/decisions/{key}/rank", {"position": position})

    async def unlink_feedback(self, decision: str, key: str) -> WriteResult:
        path = f"/api/decisions/{decision}/feedback/{key}"
        return await self._request("DELETE", path, WriteResult)

    # --- teams, outcomes, delivery, metrics ----------------------------------------------

    async def vocabulary(self) -> Vocabulary:
        return await self._request("GET", "/api/vocabulary", Vocabulary)

    async def teams(self, *, after: int | None = None) -> list[Team]:
        return await self._request("GET", "/api/teams", list[Team], params={"after": after})

    async def outcomes(self, *, after: int | None = None) -> list[Outcome]:
        params = {"after": after}
        return await self._request("GET", "/api/outcomes", list[Outcome], params=params)

    async def increments(
        self, team: str | None = None, limit: int = 100, *, after: int | None = None
    ) -> list[Increment]:
        params = {"team": team, "limit": limit, "after": after}
        page = await self._request("GET", "/api/increments", Page[Increment], params=params)
        return page.items

    async def incidents(
        self, team: str | None = None, limit: int = 100, *, after: int | None = None
    ) -> list[Incident]:
        params = {"team": team, "limit": limit, "after": after}
        page = await self._request("GET", "/api/incidents", Page[Incident], params=params)
        return page.items

    async def lead_time(
        self,
        measure: str,
        *,
        group_by: str | None = None,
        team: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        after: int | None = None,
    ) -> LeadTimes:
        params = {
            "measure": measure,
            "group_by": group_by,
            "team": team,
            "from": _moment(start),
            "to": _moment(end),
            "after": after,
        }
        return await self._request("GET", "/api/metrics/lead-time", LeadTimes, params=params)

    async def dora(
        self,
        team: str | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        after: int | None = None,
    ) -> Dora:
        params = {"team": team, "from": _moment(start), "to": _moment(end), "after": after}
        return await self._request("GET", "/api/metrics/dora", Dora, params=params)

    async def nps(
        self,
        *,
        team: str | None = None,
        group_by: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        after: int | None = None,
    ) -> Nps:
        params = {
            "team": team,
            "group_by": group_by,
            "from": _moment(start),
            "to": _moment(end),
            "after": after,
        }
        return await self._request("GET", "/api/metrics/nps", Nps, params=params)

    async def nps_why(
        self,
        *,
        team: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 5,
        after: int | None = None,
    ) -> NpsWhy:
        params = {
            "team": team,
            "from": _moment(start),
            "to": _moment(end),
            "limit": limit,
            "after": after,
        }
        return await self._request("GET", "/api/metrics/nps/why", NpsWhy, params=params)

    async def nps_follow_ups(
        self, *, team: str | None = None, limit: int = 100, after: int | None = None
    ) -> FollowUpQueue:
        """Detractors not followed up yet, oldest first (whenever they answered)."""
        params = {"team": team, "limit": limit, "after": after}
        path = "/api/metrics/nps/follow-ups"
        return await self._request("GET", path, FollowUpQueue, params=params)

    async def nps_follow_up_time(
        self,
        *,
        team: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        after: int | None = None,
    ) -> FollowUps:
        params = {"team": team, "from": _moment(start), "to": _moment(end), "after": after}
        path = "/api/metrics/nps/follow-up-time"
        return await self._request("GET", path, FollowUps, params=params)

    async def scorecards(self, *, after: int | None = None) -> list[Scorecard]:
        params = {"after": after}
        path = "/api/metrics/outcomes"
        return await self._request("GET", path, list[Scorecard], params=params)

    # --- live --------------------------------------------------------------------------

    async def changes(
        self, *, last_event_id: int | None = None, team: str | None = None
    ) -> AsyncIterator[tuple[str, str, str]]:
        """Server-sent events as (event, id, data) until the connection ends.

        Raises `Unreachable` when the connection cannot be made or breaks.
        """
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        # Heartbeats come every 15 s: a read that waits much longer means a dead link.
        timeout = httpx.Timeout(10.0, read=45.0)
        try:
            async with aconnect_sse(
                self.http,
                "GET",
                "/api/events/stream",
                params=_query({"team": team}),
                headers=headers,
                timeout=timeout,
            ) as source:
                if source.response.is_error:
                    await source.response.aread()
                    raise _problem(source.response)
                async for message in source.aiter_sse():
                    # A block with only an id or a retry carries nothing to show.
                    if message.data or message.event != "message":
                        yield message.event, message.id, message.data
        except SSEError as error:
            raise Unreachable(0, "Unreachable", f"not an event stream ({error})") from None
        except httpx.TransportError as error:
            raise Unreachable(0, "Unreachable", f"lost the live stream ({error})") from None


def decode_change(data: str) -> Change:
    return msgspec.json.decode(data, type=Change)
