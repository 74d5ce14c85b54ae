"""The triage inbox: filter, read, and act on feedback one key at a time (or in bulk)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from uuid import UUID

import msgspec
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Select

from tui.client import (
    ApiClient,
    ApiError,
    Change,
    FeedbackItem,
    FeedbackView,
    Team,
    Vocabulary,
    WriteResult,
)
from tui.messages import LiveChange
from tui.screens.detail import DetailScreen
from tui.screens.prompts import FindPrompt, PickPrompt, TextPrompt
from tui.undo import Action, Undone, UndoStack
from tui.widgets.feedback_table import FeedbackTable
from tui.widgets.preview import Preview
from tui.widgets.status_line import StatusLine

PAGE = 100
# Load the next page when the cursor comes this close to the last loaded row.
LOOKAHEAD = 20
TOUCHPOINTS = ("product", "onboarding", "billing", "support", "delivery", "mobile")
ANY = "any"
NEW_DECISION = "+new"


class PageLoaded(Message):
    def __init__(self, items: list[FeedbackItem], next_cursor: str | None, first: bool) -> None:
        super().__init__()
        self.items = items
        self.next_cursor = next_cursor
        self.first = first


class VocabularyLoaded(Message):
    def __init__(self, vocabulary: Vocabulary | None) -> None:
        super().__init__()
        self.vocabulary = vocabulary


class TeamsLoaded(Message):
    def __init__(self, teams: list[Team]) -> None:
        super().__init__()
        self.teams = teams


class Acted(Message):
    """Writes went through: the action (for undo) and the answer per item."""

    def __init__(self, action: Action, results: dict[str, WriteResult], team: str | None) -> None:
        super().__init__()
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


class InboxScreen(Screen[None]):
    """Feedback newest first, a page at a time; the cursor loads more as it nears the end."""

    CSS_PATH = "inbox.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("j", "down", "Down", show=False, id="inbox.down"),
        Binding("k", "up", "Up", show=False, id="inbox.up"),
        Binding("g", "first", "First", show=False, id="inbox.first"),
        Binding("G", "last", "Last", show=False, id="inbox.last"),
        Binding("slash", "search", "Filter", key_display="/", id="inbox.filter"),
        Binding("1", "plan", "Plan", id="inbox.plan"),
        Binding("2", "duplicate", "Dup", id="inbox.duplicate"),
        Binding("3", "decline", "Decline", id="inbox.decline"),
        Binding("h", "defer", "Defer", id="inbox.defer"),
        Binding("t", "triage", "Team", id="inbox.triage"),
        Binding("space", "select", "Select", id="inbox.select"),
        Binding("u", "undo", "Undo", id="inbox.undo"),
        Binding("enter", "open", "Open", show=False, id="inbox.open"),
        Binding("r", "refresh", "Refresh", show=False, id="inbox.refresh"),
        Binding("escape", "back_to_list", "List", show=False, id="inbox.list"),
    ]

    def __init__(self, client: ApiClient, today: Callable[[], date]) -> None:
        super().__init__(id="inbox")
        self.client = client
        self.today = today
        self.teams: dict[UUID, Team] = {}
        self.next_cursor: str | None = None
        # A page request is in flight (not Textual's `loading`, which would cover the
        # screen with a spinner and hold up its layout, the footer's included).
        self.fetching = False
        self.undo_stack = UndoStack()
        # The newest event position this screen has seen (its own writes, live changes):
        # a reload waits for the read models to reach it, so it never shows older state.
        self.seen = 0
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
        self.load_teams()
        self.load_vocabulary()

    # --- loading -----------------------------------------------------------------------

    @work(group="vocabulary")
    async def load_vocabulary(self) -> None:
        try:
            vocabulary: Vocabulary | None = await self.client.vocabulary()
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
    async def load_teams(self) -> None:
        try:
            teams = await self.client.teams()
        except ApiError as error:
            self.notify(error.detail, title="Teams", severity="error")
            return
        self.post_message(TeamsLoaded(teams))

    @work(exclusive=True, group="page")
    async def load(self, first: bool) -> None:
        self.fetching = True
        try:
            f = self.filters
            page = await self.client.feedback(
                team=f["team"],
                status=f["status"],
                channel=f["channel"],
                touchpoint=f["touchpoint"],
                q=f["q"],
                cursor=None if first else self.next_cursor,
                limit=PAGE,
                after=self.seen or None,
            )
        except ApiError as error:
            self.notify(error.detail, title="Inbox", severity="error")
            return
        finally:
            self.fetching = False
        self.post_message(PageLoaded(page.items, page.next_cursor, first))

    def on_teams_loaded(self, message: TeamsLoaded) -> None:
        self.teams = {t.id: t for t in message.teams}
        select = self.query_one("#team", Select)
        current = select.value
        select.set_options([("all teams", ANY), *((t.slug, t.slug) for t in message.teams)])
        if current in {t.slug for t in message.teams}:
            select.value = current

    def on_page_loaded(self, message: PageLoaded) -> None:
        table = self.table
        if message.first:
            table.reset()
        table.append(message.items)
        self.next_cursor = message.next_cursor
        if message.first:
            table.move_cursor(row=0)
            self.query_one(Preview).show(table.current())
        self.summarise()

    def summarise(self) -> None:
        table = self.table
        more = "+" if self.next_cursor else ""
        chosen = f" · {len(table.selected)} selected" if table.selected else ""
        self.query_one(StatusLine).summary = f"{table.row_count}{more} items{chosen}"

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

    def action_triage(self) -> None:
        items = self.targets()
        if not items:
            return
        if not self.teams:
            self.notify("No teams yet: form one first (or press r).", severity="warning")
            return
        options = [(t.slug, f"{t.slug}  {t.name}") for t in self.teams.values()]
        what = items[0].key if len(items) == 1 else f"{len(items)} items"

        def chosen(team: str | None) -> None:
            if team:
                self.triage(items, team)

        self.app.push_screen(PickPrompt(f"Triage {what} into team", options), chosen)

    def action_decline(self) -> None:
        items = self.targets()
        if not items:
            return

        def chosen(reason: str | None) -> None:
            if reason:
                self.decline(items, reason)

        what = items[0].key if len(items) == 1 else f"{len(items)} items"
        self.app.push_screen(TextPrompt(f"Decline {what}: why?"), chosen)

    def action_defer(self) -> None:
        items = self.targets()
        if not items:
            return
        default = (self.today() + timedelta(days=14)).isoformat()

        def chosen(answer: str | None) -> None:
            if not answer:
                return
            try:
                until = date.fromisoformat(answer)
            except ValueError:
                self.notify(f"{answer!r} is not a date (YYYY-MM-DD)", severity="error")
                return
            self.defer(items, until)

        what = items[0].key if len(items) == 1 else f"{len(items)} items"
        self.app.push_screen(TextPrompt(f"Defer {what} until", value=default), chosen)

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
        self.pick_decision(item)

    @work(group="write")
    async def pick_decision(self, item: FeedbackItem) -> None:
        try:
            decisions = await self.client.decisions(item.team)
        except ApiError as error:
            self.notify(error.detail, title="Decisions", severity="error")
            return
        options = [(NEW_DECISION, "+ new decision…")]
        options += [(d.key, f"{d.key}  {d.title}  ({d.status})") for d in decisions]
        choice = await self.app.push_screen_wait(PickPrompt(f"Plan {item.key} under", options))
        if choice is None:
            return
        if choice == NEW_DECISION:
            if item.team is None:
                self.notify("Triage it into a team first (t).", severity="warning")
                return
            title = await self.app.push_screen_wait(
                TextPrompt("New decision: title", value=item.text[:80])
            )
            if not title:
                return
            try:
                created = await self.client.propose_decision(
                    item.team, title, f"Asked for in {item.key}", []
                )
                choice = created.key or str(created.id)
                await self.client.accept_decision(choice)
            except ApiError as error:
                self.notify(error.detail, title="Decision", severity="error")
                return
        await self.write(
            "plan",
            [item],
            lambda i: self.client.plan(str(i.id), choice, version=i.version),
            None,
        )

    @work(group="write")
    async def triage(self, items: list[FeedbackItem], team: str) -> None:
        await self.write(
            "triage",
            items,
            lambda i: self.client.triage(
                str(i.id), team, tags=i.tags, impact=i.impact, version=self.version_of(i, items)
            ),
            team,
        )

    @work(group="write")
    async def decline(self, items: list[FeedbackItem], reason: str) -> None:
        await self.write(
            "decline",
            items,
            lambda i: self.client.decline(str(i.id), reason, version=self.version_of(i, items)),
            None,
        )

    @work(group="write")
    async def defer(self, items: list[FeedbackItem], until: date) -> None:
        await self.write(
            "defer",
            items,
            lambda i: self.client.defer(str(i.id), until, version=self.version_of(i, items)),
            None,
        )

    @work(group="write")
    async def duplicate(self, item: FeedbackItem, original: str) -> None:
        await self.write(
            "duplicate",
            [item],
            lambda i: self.client.duplicate(str(i.id), original, version=i.version),
            None,
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
    ) -> None:
        results: dict[str, WriteResult] = {}
        for item in items:
            try:
                results[item.key] = await call(item)
            except ApiError as error:
                self.notify(f"{item.key}: {error.detail}", title=error.title, severity="error")
        if results:
            self.post_message(Acted(Action.of(name, results), results, team))

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
        self.summarise()
        self.notify(f"{message.action.label} — u undoes it", timeout=3)

    def replace(self, item: FeedbackItem, **changes: object) -> None:
        updated = msgspec.structs.replace(item, **changes)
        if self.matches(updated) or self.filters["q"] is not None:
            self.table.put(updated)
        else:
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
        items = table.items
        table.sort("key", key=lambda key: (items[key].received_at, key), reverse=True)
        if at_top:
            table.move_cursor(row=0)
        self.summarise()
