"""One feedback item: what the customer said, its history, and where it went."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Static

from tui.client import ApiClient, ApiError, Decision, FeedbackDetail, Increment
from tui.formatting import STATUS_STYLE, day, when
from tui.keys import Section, bind
from tui.messages import LiveChange
from tui.screens.live import LiveScreen

# History fields that are bookkeeping rather than something a reader wants to see.
_QUIET = {"key", "team_id", "outcome_id", "decision_id", "original_id", "increment_id"}
# Ids mean nothing to a reader (and differ between databases): keys and slugs are shown.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


class DetailLoaded(Message):
    def __init__(
        self,
        detail: FeedbackDetail,
        decision: Decision | None,
        increments: list[Increment],
        original: str | None = None,
    ) -> None:
        super().__init__()
        self.detail = detail
        self.original = original
        self.decision = decision
        self.increments = increments


def summary(detail: FeedbackDetail) -> RenderableType:
    item = detail.item
    head = Text.assemble(
        (item.key, "bold"),
        "  ",
        (item.status, STATUS_STYLE.get(item.status, "")),
        f"  {item.channel} · {item.touchpoint} · received {when(item.received_at)}",
    )
    who = Text(
        f"{item.customer_ref or 'anonymous'}" + (f" ({item.segment})" if item.segment else ""),
        style="italic",
    )
    parts: list[RenderableType] = [head, who, Text(""), Text(item.text), Text("")]
    if item.nps is not None:
        parts.append(Text.assemble(("NPS ", "bold"), str(item.nps), f" — {item.nps_reason or ''}"))
    facts = []
    if item.tags:
        facts.append(f"tags {', '.join(item.tags)}")
    if item.impact:
        facts.append(f"impact {item.impact}")
    if item.deferred_until:
        facts.append(f"deferred until {day(item.deferred_until)}")
    if item.reason:
        facts.append(f"reason: {item.reason}")
    if item.shipped_at:
        facts.append(f"shipped {when(item.shipped_at)}")
    if item.loop_closed_how:
        facts.append(f"loop closed by {item.loop_closed_how}")
    if facts:
        parts.append(Text(" · ".join(facts), style="dim"))
    return Group(*parts)


def happened(data: dict[str, Any], recorded_at: datetime) -> datetime:
    """When the event happened in the world (its `…_at` field, e.g. `triaged_at`), which
    may be earlier than when it was recorded (imports, backfills)."""
    for k, v in data.items():
        if k.endswith("_at") and isinstance(v, str):
            try:
                return datetime.fromisoformat(v)
            except ValueError:
                continue
    return recorded_at


def readable(value: object) -> str:
    """A history value as a reader writes it: lists joined, not Python's repr."""
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {readable(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def timeline(detail: FeedbackDetail) -> RenderableType:
    table = Table("When", "Event", "Details", box=None, expand=True, pad_edge=False)
    for entry in detail.history:
        fields = "; ".join(
            f"{k.replace('_', ' ')}: {readable(v)}"
            for k, v in entry.data.items()
            if v not in (None, [], "", {})
            and k not in _QUIET
            and not k.endswith("_at")
            and not _UUID.search(str(v))
        )
        table.add_row(when(happened(entry.data, entry.recorded_at)), entry.event, fields)
    return table


def links(
    detail: FeedbackDetail,
    decision: Decision | None,
    increments: list[Increment],
    original: str | None = None,
) -> RenderableType:
    item = detail.item
    lines: list[RenderableType] = []
    if decision is not None:
        lines.append(
            Text.assemble(
                ("Decision ", "bold"), f"{decision.key} {decision.title} ({decision.status})"
            )
        )
    else:
        lines.append(Text("No decision yet.", style="dim"))
    if item.duplicate_ids:
        customers = sorted({d.customer_ref or "anonymous" for d in item.demand})
        lines.append(
            Text.assemble(
                ("Duplicates ", "bold"),
                f"{len(item.duplicate_ids)} merged; asked by {', '.join(customers)}",
            )
        )
    if item.duplicate_of:
        lines.append(Text.assemble(("Duplicate of ", "bold"), original or "another item"))
    for inc in increments:
        lines.append(
            Text.assemble(
                ("Shipped ", "bold"),
                f"{inc.service} {inc.release_version or inc.commit_sha or ''} "
                f"to {inc.environment} {when(inc.finished_at)} ({inc.status})",
            )
        )
    return Group(*lines)


class DetailScreen(LiveScreen):
    CSS_PATH = "detail.tcss"
    FOLLOWS = frozenset({"Feedback", "Decision", "Increment"})
    BINDINGS = [
        bind(
            "escape",
            "app.pop_screen",
            "Back",
            "Back to the list",
            id="detail.back",
            section=Section.MOVE,
        ),
        bind(
            "r",
            "refresh",
            "Refresh",
            "Load the item again",
            id="detail.refresh",
            section=Section.VIEW,
        ),
        bind(
            "j",
            "scroll_down",
            "Down",
            "Scroll down",
            show=False,
            id="detail.down",
            section=Section.MOVE,
        ),
        bind("k", "scroll_up", "Up", "Scroll up", show=False, id="detail.up", section=Section.MOVE),
    ]

    def __init__(self, client: ApiClient, key: str, ref: str | None = None) -> None:
        super().__init__()
        self.client = client
        self.key = key
        self.ref = ref or key
        self.loaded = False
        self.item_id = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail"):
            yield Static(f"Loading {self.key}…", id="summary")
            yield Static("", id="links")
            yield Static("History", classes="heading")
            yield Static("", id="timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
        self.load()

    def action_refresh(self) -> None:
        self.load()

    def on_live_change(self, message: LiveChange) -> None:
        # Only this item's own changes, and those of its decision (the rest is noise here).
        change = message.change
        mine = change.key == self.key or str(change.id) in (self.ref, self.item_id)
        if change.aggregate != "Feedback" or mine:
            super().on_live_change(message)

    def live_reload(self) -> None:
        self.load()

    def action_scroll_down(self) -> None:
        self.query_one(VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one(VerticalScroll).scroll_up()

    @work(exclusive=True)
    async def load(self) -> None:
        try:
            detail = await self.client.feedback_item(self.ref)
        except ApiError as error:
            self.notify(error.detail, title=self.key, severity="error")
            return
        decision: Decision | None = None
        increments: list[Increment] = []
        if detail.item.decision_id is not None:
            try:
                decision = await self.client.decision(str(detail.item.decision_id))
            except ApiError:
                decision = None  # the backlog has not caught up with it yet
        if detail.item.shipped_by:
            try:
                refs = {self.key, decision.key if decision else ""}
                increments = [
                    i
                    for i in await self.client.increments()
                    if i.id in detail.item.shipped_by or refs & {*i.feedback_refs, *i.decision_refs}
                ]
            except ApiError:
                increments = []
        original: str | None = None
        if detail.item.duplicate_of is not None:
            try:
                original = (await self.client.feedback_item(str(detail.item.duplicate_of))).item.key
            except ApiError:
                original = None
        self.post_message(DetailLoaded(detail, decision, increments, original))

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        self.title = message.detail.item.key
        self.item_id = str(message.detail.item.id)
        self.query_one("#summary", Static).update(summary(message.detail))
        self.query_one("#links", Static).update(
            links(message.detail, message.decision, message.increments, message.original)
        )
        self.query_one("#timeline", Static).update(timeline(message.detail))
        self.loaded = True
