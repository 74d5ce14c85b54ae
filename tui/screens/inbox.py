"""The triage inbox: filter, read, and act on feedback one key at a time (or in bulk)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TypedDict
from uuid import UUID

import msgspec
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Select

from tui.ahead import Ahead
from tui.client import (
    ApiClient,
    ApiError,
    Change,
    FeedbackItem,
    FeedbackPage,
    FeedbackView,
    Outcome,
    Team,
    Vocabulary,
    WriteResult,
)
from tui.dates import HINT, parse_day
from tui.formatting import clip, count
from tui.keys import Section, bind
from tui.messages import LiveChange
from tui.screens.detail import DetailScreen
from tui.screens.live import DEBOUNCE
from tui.screens.prompts import Field, FindPrompt, FormPrompt, PickPrompt, close_loop_form
from tui.undo import Action, Undone, UndoStack
from tui.widgets.feedback_table import FeedbackTable
from tui.widgets.preview import Preview
from tui.widgets.status_line import StatusLine

PAGE = 100
# Load the next page when the cursor comes this close to the last loaded row.
LOOKAHEAD = 20
TOUCHPOINTS = ("product", "onboarding", "billing", "support", "delivery", "mobile")
IMPACTS = (("low", "low"), ("medium", "medium"), ("high", "high"), ("critical", "critical"))
# Where planning is offered (the domain refuses it elsewhere; a new item is triaged first).
PLANNABLE = ("triaged", "planned")
# Decisions an item can be planned under (a proposal is accepted in the backlog first).
IN_BACKLOG = ("accepted", "in_progress")
ANY = "any"
NEW_DECISION = "+new"


@dataclass(frozen=True)
class Triage:
    """The triage dialog's answer."""

    team: str
    tags: list[str]
    impact: str | None
    outcome: str | None

    @classmethod
    def of(cls, answer: dict[str, str]) -> Triage:
        return cls(
            team=answer["team"],
            tags=[t.strip() for t in answer["tags"].split(",") if t.strip()],
            impact=answer["impact"] or None,
            outcome=answer["outcome"] or None,
        )


class PageLoaded(Message):
    def __init__(
        self,
        items: list[FeedbackItem],
        next_cursor: str | None,
        first: bool,
        generation: int,
        total: int | None = None,
    ) -> None:
        super().__init__()
        self.items = items
        self.next_cursor = next_cursor
        self.total = total
        self.first = first
        # Which first-page load this page belongs to: a later one supersedes it.
        self.generation = generation


class Counted(Message):
    """How many items match the filters now (after a live change moved the count)."""

    def __init__(self, total: int | None, generation: int) -> None:
        super().__init__()
        self.total = total
        self.generation = generation


class VocabularyLoaded(Message):
    def __init__(self, vocabulary: Vocabulary | None) -> None:
        super().__init__()
        self.vocabulary = vocabulary


class TeamsLoaded(Message):
    def __init__(self, teams: list[Team], outcomes: list[Outcome]) -> None:
        super().__init__()
        self.teams = teams
        self.outcomes = outcomes


class Acted(Message):
    """Writes went through: the action (for undo) and the answer per item."""

    def __init__(
        self, action: Action, results: dict[str, WriteResult], team: str | None, said: str
    ) -> None:
        super().__init__()
        self.said = said
        self.action = action
        self.results = results
        self.team = team


class Arrived(Message):
    """An item we did not show changed into something the filters match."""

    def __init__(self, item: FeedbackItem) -> None:
        super().__init__()
        self.item = item


class WasUndone(Message):
    def __init__(self, action: Action, undone: Undone) -> None:
        super().__init__()
        self.action = action
        self.undone = undone


def as_item(view: FeedbackView, team: str | None) -> FeedbackItem:
    return FeedbackItem(
        id=view.id,
        key=view.key,
        status=view.status,
        channel=view.channel,
        touchpoint=view.touchpoint,
        text=view.text,
        received_at=view.received_at,
        version=view.version,
        customer_ref=view.customer_ref,
        segment=view.segment,
        nps=view.nps,
        nps_reason=view.nps_reason,
        team_id=view.team_id,
        team=team,
        tags=list(view.tags),
        impact=view.impact,
        deferred_until=view.deferred_until,
        reason=view.reason,
        duplicates=len(view.duplicate_ids),
    )


VOCABULARY = "vocabulary"


class PageQuery(TypedDict):
    team: str | None
    status: str | None
    channel: str | None
    touchpoint: str | None
    q: str | None
    cursor: str | None
    limit: int
    after: int | None


def page_query(
    *,
    status: str | None,
    team: str | None = None,
    channel: str | None = None,
    touchpoint: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    after: int | None = None,
) -> PageQuery:
    """A page of the inbox as `ApiClient.feedback` asks for it."""
    return {
        "team": team,
        "status": status,
        "channel": channel,
        "touchpoint": touchpoint,
        "q": q,
        "cursor": cursor,
        "limit": PAGE,
        "after": after,
    }


FIRST_PAGE = "first page"
TEAMS = "teams"


async def teams_and_outcomes(client: ApiClient) -> tuple[list[Team], list[Outcome]]:
    """The teams (for the team filter and triage) and the outcomes (for triage)."""
    teams, outcomes = await asyncio.gather(client.teams(), client.outcomes())
    return teams, outcomes


class InboxScreen(Screen[None]):
    """Feedback newest first, a page at a time; the cursor loads more as it nears the end."""

    CSS_PATH = "inbox.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        bind("j", "down", "Down", "Next item", show=False, id="inbox.down", section=Section.MOVE),
        bind("k", "up", "Up", "Previous item", show=False, id="inbox.up", section=Section.MOVE),
        bind(
            "g", "first", "First", "First item", show=False, id="inbox.first", section=Section.MOVE
        ),
        bind(
            "G",
            "last",
            "Last",
            "Last item (loads every page)",
            show=False,
            id="inbox.last",
            section=Section.MOVE,
        ),
        bind(
            "slash",
            "search",
            "Filter",
            "Search the items' words and keys",
            key_display="/",
            id="inbox.filter",
            section=Section.VIEW,
        ),
        bind(
            "t",
            "triage",
            "Triage",
            "Triage: team, tags, impact and outcome",
            id="inbox.triage",
            section=Section.ACT,
        ),
        bind(
            "1",
            "plan",
            "Plan",
            "Plan under an accepted decision",
            id="inbox.plan",
            section=Section.ACT,
        ),
        bind(
            "2",
            "duplicate",
            "Dup",
            "Mark as a duplicate of another item",
            id="inbox.duplicate",
            section=Section.ACT,
        ),
        bind(
            "3",
            "decline",
            "Decline",
            "Decline, with a reason",
            id="inbox.decline",
            section=Section.ACT,
        ),
        bind("h", "defer", "Defer", "Defer until a day", id="inbox.defer", section=Section.ACT),
        bind(
            "p",
            "propose",
            "Propose",
            "Propose a decision from the selected items",
            show=False,
            id="inbox.propose",
            section=Section.ACT,
        ),
        bind(
            "c",
            "close_loop",
            "Close loop",
            "Close the loop: say how the customer was told",
            show=False,
            id="inbox.close_loop",
            section=Section.ACT,
        ),
        bind(
            "space",
            "select",
            "Select",
            "Select or unselect the item (actions apply to all selected)",
            id="inbox.select",
            section=Section.ACT,
        ),
        bind(
            "u",
            "undo",
            "Undo",
            "Undo the last action (again for the one before)",
            id="inbox.undo",
            section=Section.ACT,
        ),
        bind(
            "enter",
            "open",
            "Open",
            "Open the item: its detail and history",
            show=False,
            id="inbox.open",
            section=Section.MOVE,
        ),
        bind(
            "r",
            "refresh",
            "Refresh",
            "Load the inbox again",
            show=False,
            id="inbox.refresh",
            section=Section.VIEW,
        ),
        bind(
            "escape",
            "back_to_list",
            "List",
            "Back to the list from the filters",
            show=False,
            id="inbox.list",
            section=Section.MOVE,
        ),
    ]

    def __init__(
        self, client: ApiClient, today: Callable[[], date], ahead: Ahead | None = None
    ) -> None:
        super().__init__(id="inbox")
        self.client = client
        self.today = today
        self.ahead = ahead or Ahead()
        self.teams: dict[UUID, Team] = {}
        self.outcomes: list[Outcome] = []
        self.next_cursor: str | None = None
        # A page request is in flight (not Textual's `loading`, which would cover the
        # screen with a spinner and hold up its layout, the footer's included).
        self.fetching = False
        self.undo_stack = UndoStack()
        # The newest event position this screen has seen (its own writes, live changes):
        # a reload waits for the read models to reach it, so it never shows older state.
        self.seen = 0
        # A first page replaces every row. Live changes that arrive while it is on its way
        # are newer than it may be, so they are kept (by item id) and applied again on
        # arrival; `generation` tells a superseded first page from the current one.
        self.generation = 0
        self.reloading = False
        self.pending: dict[UUID, Change] = {}
        # How many items match the filters (the first page says; rows that arrive or
        # leave live move it at once, and a recount after each burst of changes settles
        # it, items not loaded yet included).
        self.total: int | None = None
        self.count_timer: Timer | None = None
        self.filters: dict[str, str | None] = {
            "team": None,
            # The inbox shows where new items wait, once the API has said which status that is.
            "status": None,
            "channel": None,
            "touchpoint": None,
            "q": None,
        }

    # --- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Select[str](
                [("all teams", ANY)], value=ANY, allow_blank=False, compact=True, id="team"
            )
            yield Select[str](
                [("any status", ANY)], value=ANY, allow_blank=False, compact=True, id="status"
            )
            yield Select[str](
                [("any channel", ANY)],
                value=ANY,
                allow_blank=False,
                compact=True,
                id="channel",
            )
            yield Select[str](
                [("any touchpoint", ANY), *((t, t) for t in TOUCHPOINTS)],
                value=ANY,
                allow_blank=False,
                compact=True,
                id="touchpoint",
            )
            yield Input(placeholder="/ search", compact=True, id="search")
        with Horizontal(id="body"):
            yield FeedbackTable(id="feedback")
            yield Preview(id="preview")
        yield StatusLine(id="status-line")
        yield Footer()

    @property
    def table(self) -> FeedbackTable:
        return self.query_one(FeedbackTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.load_teams(opening=True)
        self.load_vocabulary()

    # --- loading -----------------------------------------------------------------------

    @staticmethod
    def ask_ahead(client: ApiClient, ahead: Ahead) -> None:
        """Ask, while the app is still starting, what the inbox shows first: the statuses,
        then the first page of the status where new items wait (the same question `load`
        asks, so it takes that answer instead of asking again)."""
        vocabulary = ahead.ask(VOCABULARY, client.vocabulary())

        async def first_page() -> tuple[PageQuery, FeedbackPage]:
            query = page_query(status=(await vocabulary).inbox_status)
            return query, await client.feedback(**query)

        ahead.ask(FIRST_PAGE, first_page())
        ahead.ask(TEAMS, teams_and_outcomes(client))

    @work(group="vocabulary")
    async def load_vocabulary(self) -> None:
        try:
            vocabulary: Vocabulary | None = await (
                self.ahead.take(VOCABULARY) or self.client.vocabulary()
            )
        except ApiError as error:
            self.notify(error.detail, title="Statuses", severity="error")
            vocabulary = None
        self.post_message(VocabularyLoaded(vocabulary))

    def on_vocabulary_loaded(self, message: VocabularyLoaded) -> None:
        vocabulary = message.vocabulary
        if vocabulary is not None:
            self.filters["status"] = vocabulary.inbox_status
            status = self.query_one("#status", Select)
            status.set_options(
                [("any status", ANY), *((s, s) for s in vocabulary.feedback_statuses)]
            )
            status.value = vocabulary.inbox_status
            channel = self.query_one("#channel", Select)
            channel.set_options([("any channel", ANY), *((c, c) for c in vocabulary.channels)])
        self.load(first=True)

    @work(group="teams")
    async def load_teams(self, opening: bool = False) -> None:
        asked = self.ahead.take(TEAMS) if opening else None
        try:
            teams, outcomes = await (asked or teams_and_outcomes(self.client))
        except ApiError as error:
            self.notify(error.detail, title="Teams", severity="error")
            return
        self.post_message(TeamsLoaded(teams, outcomes))

    @work(exclusive=True, group="page")
    async def load(self, first: bool) -> None:
        self.fetching = True
        if first:
            self.generation += 1
            self.reloading = True
        generation = self.generation
        try:
            f = self.filters
            query = page_query(
                team=f["team"],
                status=f["status"],
                channel=f["channel"],
                touchpoint=f["touchpoint"],
                q=f["q"],
                cursor=None if first else self.next_cursor,
                after=self.seen or None,
            )
            page = await self.asked_ahead(query) if first else None
            if page is None:
                page = await self.client.feedback(**query)
        except ApiError as error:
            self.notify(error.detail, title="Inbox", severity="error")
            if first:  # the rows stay as they were, live changes applied
                self.reloading = False
                self.pending.clear()
            return
        finally:
            self.fetching = False
        self.post_message(PageLoaded(page.items, page.next_cursor, first, generation, page.total))

    async def asked_ahead(self, query: PageQuery) -> FeedbackPage | None:
        """The opening page asked for while the app started, if it answers `query` (not
        when a filter was chosen or a change heard first); None to ask now."""
        asked = self.ahead.take(FIRST_PAGE)
        if asked is None:
            return None
        try:
            answered, page = await asked
        except ApiError:
            return None  # asking now says what is wrong
        return page if answered == query else None

    def count_soon(self) -> None:
        if self.count_timer is None:
            self.count_timer = self.set_timer(DEBOUNCE, self._recount)

    def _recount(self) -> None:
        self.count_timer = None
        self.recount()

    @work(exclusive=True, group="count")
    async def recount(self) -> None:
        generation = self.generation
        f = self.filters
        try:
            page = await self.client.feedback(
                team=f["team"],
                status=f["status"],
                channel=f["channel"],
                touchpoint=f["touchpoint"],
                q=f["q"],
                limit=1,
                after=self.seen or None,
            )
        except ApiError:
            return  # the next change or reload counts again
        self.post_message(Counted(page.total, generation))

    def on_counted(self, message: Counted) -> None:
        if message.generation == self.generation and not self.reloading:
            self.total = message.total
            self.summarise()

    def on_teams_loaded(self, message: TeamsLoaded) -> None:
        self.teams = {t.id: t for t in message.teams}
        self.outcomes = message.outcomes
        select = self.query_one("#team", Select)
        current = select.value
        select.set_options([("all teams", ANY), *((t.slug, t.slug) for t in message.teams)])
        if current in {t.slug for t in message.teams}:
            select.value = current

    def on_page_loaded(self, message: PageLoaded) -> None:
        if message.generation != self.generation:
            return  # a newer first page is on its way (filters changed, or a reload)
        table = self.table
        if message.first:
            table.reset()
            self.total = message.total
        table.append(message.items)
        self.next_cursor = message.next_cursor
        if message.first:
            table.move_cursor(row=0)
            self.query_one(Preview).show(table.current())
            self.reloading = False
            # Changes heard while the page was on its way may be newer than its rows (or
            # concern items it did not have): ask for those items as they now stand.
            pending, self.pending = self.pending, {}
            for change in pending.values():
                key = table.keys.get(change.id)
                shown = table.items.get(key) if key else None
                if shown is None or shown.version < change.version:
                    self.fetch_arrival(change)
        self.summarise()

    def summarise(self) -> None:
        table = self.table
        chosen = f" · {len(table.selected)} selected" if table.selected else ""
        shown = count(table.row_count, self.total, bool(self.next_cursor))
        self.query_one(StatusLine).summary = f"{shown}{chosen}"

    def matches(self, item: FeedbackItem) -> bool:
        f = self.filters
        return (
            f["q"] is None
            and (f["status"] is None or item.status == f["status"])
            and (f["team"] is None or item.team == f["team"])
            and (f["channel"] is None or item.channel == f["channel"])
            and (f["touchpoint"] is None or item.touchpoint == f["touchpoint"])
        )

    # --- filters -------------------------------------------------------------------------

    @on(Select.Changed)
    def filter_changed(self, event: Select.Changed) -> None:
        name = event.select.id or ""
        value = None if event.value in (ANY, Select.NULL) else str(event.value)
        if self.filters.get(name, "") != value:
            self.filters[name] = value
            self.load(first=True)

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.filters["q"] = event.value.strip() or None
        self.table.focus()
        self.load(first=True)

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_back_to_list(self) -> None:
        self.table.focus()

    # --- moving --------------------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.query_one(Preview).show(self.table.current())
        near_end = event.cursor_row >= self.table.row_count - LOOKAHEAD
        if near_end and self.next_cursor and not self.fetching:
            self.load(first=False)

    def action_down(self) -> None:
        self.table.action_cursor_down()

    def action_up(self) -> None:
        self.table.action_cursor_up()

    def action_first(self) -> None:
        self.table.move_cursor(row=0)

    def action_last(self) -> None:
        self.table.move_cursor(row=max(0, self.table.row_count - 1))
        if self.next_cursor and not self.fetching:
            self.load(first=False)

    def action_refresh(self) -> None:
        self.load_teams()
        self.load(first=True)

    def action_select(self) -> None:
        item = self.table.current()
        if item is not None:
            self.table.toggle(item.key)
            self.summarise()

    @on(DataTable.RowSelected)
    def row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        item = self.table.current()
        if item is not None:
            self.app.push_screen(DetailScreen(self.client, item.key, str(item.id)))

    # --- acting ----------------------------------------------------------------------------

    def targets(self) -> list[FeedbackItem]:
        """The selected items, or the one under the cursor."""
        table = self.table
        if table.selected:
            return [table.items[k] for k in sorted(table.selected) if k in table.items]
        item = table.current()
        return [item] if item is not None else []

    def what(self, items: list[FeedbackItem]) -> str:
        return items[0].key if len(items) == 1 else f"{len(items)} items"

    def triage_form(self, title: str, items: list[FeedbackItem]) -> FormPrompt:
        first = items[0]
        teams = [(t.slug, f"{t.slug}  {t.name}") for t in self.teams.values()]
        outcomes = [(str(o.id), clip(o.statement, 60)) for o in self.outcomes]
        return FormPrompt(
            title,
            [
                Field(
                    "team",
                    "Team",
                    value=first.team or (teams[0][0] if teams else ""),
                    options=teams,
                    required="Choose the team that takes it.",
                ),
                Field(
                    "tags",
                    "Tags (comma-separated)",
                    value=", ".join(first.tags),
                    placeholder="e.g. invoices, export",
                ),
                Field("impact", "Impact", value=first.impact or "", options=IMPACTS),
                Field("outcome", "Outcome it serves", options=outcomes),
            ],
        )

    def action_triage(self) -> None:
        items = self.targets()
        if not items:
            return
        if not self.teams:
            self.notify("No teams yet: form one first (or press r).", severity="warning")
            return

        def chosen(answer: dict[str, str] | None) -> None:
            if answer:
                self.triage(items, Triage.of(answer))

        self.app.push_screen(self.triage_form(f"Triage {self.what(items)}", items), chosen)

    def action_decline(self) -> None:
        items = self.targets()
        if not items:
            return

        def chosen(answer: dict[str, str] | None) -> None:
            if answer:
                self.decline(items, answer["reason"])

        form = FormPrompt(
            f"Decline {self.what(items)}",
            [
                Field(
                    "reason",
                    "Why?",
                    placeholder="why it is declined (kept with the item)",
                    required="Say why it is declined: the reason is kept with the item.",
                )
            ],
        )
        self.app.push_screen(form, chosen)

    def action_defer(self) -> None:
        items = self.targets()
        if not items:
            return
        today = self.today()

        def problem(text: str) -> str | None:
            try:
                parse_day(text, today)
            except ValueError as error:
                return str(error)
            return None

        def chosen(answer: dict[str, str] | None) -> None:
            if answer:
                until = parse_day(answer["until"], today)
                self.defer(items, until, answer["reason"] or None)

        form = FormPrompt(
            f"Defer {self.what(items)}",
            [
                Field(
                    "until",
                    "Until",
                    value="in 2 weeks",
                    placeholder=HINT,
                    required=f"Say until when: {HINT}.",
                    check=problem,
                ),
                Field("reason", "Why (optional)"),
            ],
        )
        self.app.push_screen(form, chosen)

    def action_close_loop(self) -> None:
        items = self.targets()
        if not items:
            return

        def chosen(answer: dict[str, str] | None) -> None:
            if answer:
                self.close_loop(items, answer["how"], answer["note"] or None)

        self.app.push_screen(close_loop_form(self.what(items)), chosen)

    def action_duplicate(self) -> None:
        item = self.table.current()
        if item is None:
            return

        def chosen(original: str | None) -> None:
            if original:
                self.duplicate(item, original)

        prompt = FindPrompt(
            f"{item.key} duplicates which item?",
            self.client,
            exclude=item.key,
            suggest_for=item.key,
        )
        self.app.push_screen(prompt, chosen)

    def action_plan(self) -> None:
        item = self.table.current()
        if item is None:
            return
        if item.status not in PLANNABLE and item.status != "new":
            self.notify(
                f"{item.key} is {item.status}: only a triaged item can be planned"
                " (reopen or triage it first).",
                severity="warning",
            )
            return
        self.plan_flow(item)

    def action_propose(self) -> None:
        items = self.targets()
        if not items:
            return
        self.propose_flow(items)

    def decision_form(self, items: list[FeedbackItem]) -> FormPrompt:
        teams = [(t.slug, f"{t.slug}  {t.name}") for t in self.teams.values()]
        outcomes = [(str(o.id), clip(o.statement, 60)) for o in self.outcomes]
        asks = ", ".join(i.key for i in items[:5]) + ("…" if len(items) > 5 else "")
        return FormPrompt(
            f"Propose a decision for {asks}",
            [
                Field("title", "Title (one line)", required="Give the decision a title."),
                Field(
                    "rationale",
                    "Rationale",
                    placeholder="why this, and why now",
                    required="Say why: the rationale is what reviewers accept or decline.",
                ),
                Field("options", "Options considered (separated by ;)"),
                Field(
                    "team",
                    "Team",
                    value=next((i.team for i in items if i.team), None)
                    or (teams[0][0] if teams else ""),
                    options=teams,
                    required="Choose the team that owns the decision.",
                ),
                Field("outcome", "Outcome it serves", options=outcomes),
            ],
        )

    @work(group="write")
    async def propose_flow(self, items: list[FeedbackItem]) -> None:
        await self.propose(items)

    async def propose(self, items: list[FeedbackItem]) -> None:
        """Propose a decision from the chosen items (proposed, not accepted: the backlog
        accepts it); the items are linked to it as its asks."""
        if not self.teams:
            self.notify("No teams yet: form one first (or press r).", severity="warning")
            return
        answer = await self.app.push_screen_wait(self.decision_form(items))
        if not answer:
            return
        try:
            created = await self.client.propose_decision(
                answer["team"],
                answer["title"],
                answer["rationale"],
                [i.key for i in items],
                options=[o.strip() for o in answer["options"].split(";") if o.strip()],
                outcome=answer["outcome"] or None,
            )
        except ApiError as error:
            self.notify(error.detail, title="Propose a decision", severity="error")
            return
        self.seen = max(self.seen, created.position or 0)
        self.notify(
            f"Proposed {created.key} for {', '.join(i.key for i in items)}; accept it in the"
            " backlog (b, then a), then plan the items under it (1).",
            timeout=6,
        )

    @work(group="write")
    async def plan_flow(self, item: FeedbackItem) -> None:
        if item.status == "new":
            # Only a triaged item can be planned: triage it first, then carry on.
            if not self.teams:
                self.notify("No teams yet: form one first (or press r).", severity="warning")
                return
            form = self.triage_form(f"{item.key} is new: triage it first, then plan it", [item])
            answer = await self.app.push_screen_wait(form)
            if not answer:
                return
            triage = Triage.of(answer)
            try:
                result = await self.client.triage(
                    str(item.id),
                    triage.team,
                    tags=triage.tags,
                    impact=triage.impact,
                    outcome=triage.outcome,
                    version=item.version,
                )
            except ApiError as error:
                self.notify(f"{item.key}: {error.detail}", title=error.title, severity="error")
                return
            item = msgspec.structs.replace(
                item, status=result.status or "triaged", version=result.version, team=triage.team
            )
            self.seen = max(self.seen, result.position or 0)
        try:
            decisions = await self.client.decisions(item.team)
        except ApiError as error:
            self.notify(error.detail, title="Decisions", severity="error")
            return
        options = [(NEW_DECISION, "+ propose a new decision…")]
        options += [
            (d.key, f"{d.key}  {clip(d.title, 50)}  ({d.status})")
            for d in decisions
            if d.status in IN_BACKLOG
        ]
        choice = await self.app.push_screen_wait(PickPrompt(f"Plan {item.key} under", options))
        if choice is None:
            return
        if choice == NEW_DECISION:
            # A new decision is proposed with this item as its ask; the item is planned
            # under it once the backlog accepts it.
            await self.propose([item])
            return
        await self.write(
            "plan",
            [item],
            lambda i: self.client.plan(str(i.id), choice, version=i.version),
            None,
            said=f"Planned {item.key} under {choice}",
        )

    @work(group="write")
    async def triage(self, items: list[FeedbackItem], triage: Triage) -> None:
        await self.write(
            "triage",
            items,
            lambda i: self.client.triage(
                str(i.id),
                triage.team,
                tags=triage.tags,
                impact=triage.impact,
                outcome=triage.outcome,
                version=self.version_of(i, items),
            ),
            triage.team,
            said=f"Triaged {self.what(items)} into {triage.team}",
        )

    @work(group="write")
    async def decline(self, items: list[FeedbackItem], reason: str) -> None:
        await self.write(
            "decline",
            items,
            lambda i: self.client.decline(str(i.id), reason, version=self.version_of(i, items)),
            None,
            said=f"Declined {self.what(items)}",
        )

    @work(group="write")
    async def defer(self, items: list[FeedbackItem], until: date, reason: str | None) -> None:
        await self.write(
            "defer",
            items,
            lambda i: self.client.defer(
                str(i.id), until, reason, version=self.version_of(i, items)
            ),
            None,
            said=f"Deferred {self.what(items)} until {until.isoformat()}",
        )

    @work(group="write")
    async def close_loop(self, items: list[FeedbackItem], how: str, note: str | None) -> None:
        await self.write(
            "close the loop",
            items,
            lambda i: self.client.close_loop(
                str(i.id), how, note, version=self.version_of(i, items)
            ),
            None,
            said=f"Closed the loop on {self.what(items)} ({how})",
        )

    @work(group="write")
    async def duplicate(self, item: FeedbackItem, original: str) -> None:
        await self.write(
            "duplicate",
            [item],
            lambda i: self.client.duplicate(str(i.id), original, version=i.version),
            None,
            said=f"Marked {item.key} a duplicate of {original}",
        )

    @staticmethod
    def version_of(item: FeedbackItem, items: list[FeedbackItem]) -> int | None:
        # One item: guard against someone else's change since we loaded it (412/409).
        # Bulk: the user chose the whole set; act on each item as it stands.
        return item.version if len(items) == 1 else None

    async def write(
        self,
        name: str,
        items: list[FeedbackItem],
        call: Callable[[FeedbackItem], Awaitable[WriteResult]],
        team: str | None,
        *,
        said: str,
    ) -> None:
        results: dict[str, WriteResult] = {}
        for item in items:
            try:
                results[item.key] = await call(item)
            except ApiError as error:
                self.notify(f"{item.key}: {error.detail}", title=error.title, severity="error")
        if results:
            self.post_message(Acted(Action.of(name, results), results, team, said))

    def on_acted(self, message: Acted) -> None:
        table = self.table
        for key, result in message.results.items():
            self.seen = max(self.seen, result.position or 0)
            item = table.items.get(key)
            if item is None:
                continue
            changes: dict[str, object] = {"version": max(item.version, result.version)}
            if result.status:
                changes["status"] = result.status
            if message.team is not None:
                changes["team"] = message.team
            self.replace(item, **changes)
        table.selected.difference_update(message.results)
        self.undo_stack.push(message.action)
        self.count_soon()
        self.summarise()
        self.notify(f"{message.said} — u undoes it", timeout=3)

    def replace(self, item: FeedbackItem, **changes: object) -> None:
        updated = msgspec.structs.replace(item, **changes)
        if self.matches(updated) or self.filters["q"] is not None:
            self.table.put(updated)
        else:
            if item.key in self.table.items and self.total is not None:
                self.total = max(0, self.total - 1)
            self.table.drop(item.key)
        self.query_one(Preview).show(self.table.current())

    # --- undo --------------------------------------------------------------------------------

    def action_undo(self) -> None:
        action = self.undo_stack.pop()
        if action is None:
            self.notify("Nothing to undo.", severity="warning")
            return
        self.run_undo(action)

    @work(group="write")
    async def run_undo(self, action: Action) -> None:
        self.post_message(WasUndone(action, await self.undo_stack.undo(self.client, action)))

    def on_was_undone(self, message: WasUndone) -> None:
        undone = message.undone
        self.seen = max(self.seen, undone.position)
        for failure in undone.failures:
            self.notify(failure, title="Undo", severity="error")
        if undone.keys:
            self.notify(f"Undid {message.action.name} of {', '.join(undone.keys)}", timeout=3)
            self.load(first=True)

    # --- live ----------------------------------------------------------------------------------

    def on_live_change(self, message: LiveChange) -> None:
        change = message.change
        self.seen = max(self.seen, change.position)
        if change.aggregate == "Team":
            self.load_teams()
            return
        if change.aggregate != "Feedback":
            return
        self.count_soon()
        if self.reloading:
            self.pending[change.id] = change
        # Not every event carries the key; the id is always there.
        key = change.key or self.table.keys.get(change.id)
        item = self.table.items.get(key) if key else None
        # An undo (a correction) may restore any earlier state, so its change names no
        # status: ask for the item as it now stands.
        corrected = change.event == "Corrected"
        if item is not None:
            if change.version <= item.version:
                return  # our own write, already shown
            if corrected:
                self.fetch_arrival(change)
                return
            changes: dict[str, object] = {"version": change.version}
            if change.status is not None:
                changes["status"] = change.status
            if change.team_id is not None and change.team_id in self.teams:
                changes["team"] = self.teams[change.team_id].slug
            self.replace(item, **changes)
            self.summarise()
        elif self.filters["q"] is None and (
            corrected or self.filters["status"] is None or change.status == self.filters["status"]
        ):
            self.fetch_arrival(change)

    @work(group="live")
    async def fetch_arrival(self, change: Change) -> None:
        try:
            detail = await self.client.feedback_item(str(change.id))
        except ApiError:
            return  # the next refresh shows it
        team = self.teams.get(detail.item.team_id) if detail.item.team_id else None
        self.post_message(Arrived(as_item(detail.item, team.slug if team else None)))

    def on_arrived(self, message: Arrived) -> None:
        item = message.item
        shown = self.table.items.get(item.key)
        if shown is not None:
            if shown.version < item.version:  # corrected since: show it as it now stands
                self.replace(shown, **msgspec.structs.asdict(item))
                self.summarise()
            return
        if not self.matches(item):
            return
        table = self.table
        at_top = table.cursor_row == 0
        table.put(item)
        if self.total is not None:
            self.total += 1
        items = table.items
        table.sort("key", key=lambda cell: (items[str(cell)].received_at, str(cell)), reverse=True)
        if at_top:
            table.move_cursor(row=0)
        self.summarise()
