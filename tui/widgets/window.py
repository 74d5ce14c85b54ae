"""The span a metrics screen looks at, chosen on screen: the last 4, 12, 26 or 52 weeks, or
two days of the user's choosing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Select, Static

from tui.formatting import day
from tui.screens.prompts import Field, FormPrompt

WEEKS = (4, 12, 26, 52)
DEFAULT_WEEKS = 12
CUSTOM = "custom"
CUSTOM_HINT = "two days, first and last, e.g. 2026-01-05 to 2026-03-01"


@dataclass(frozen=True)
class Window:
    """The last `weeks` weeks up to now, or (`weeks` None) the days `first` to `last`,
    both included."""

    weeks: int | None = DEFAULT_WEEKS
    first: date | None = None
    last: date | None = None

    def span(self, now: datetime) -> tuple[datetime, datetime]:
        """The half-open [from, to) the API is asked about. The last weeks end with
        `now`'s minute, so the same question asked within a minute is the same question
        (and the server's cache answers it)."""
        if self.weeks is None and self.first is not None and self.last is not None:
            start = datetime.combine(self.first, time(), UTC)
            return start, datetime.combine(self.last + timedelta(days=1), time(), UTC)
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return end - timedelta(weeks=self.weeks or DEFAULT_WEEKS), end


def parse_days(text: str) -> tuple[date, date]:
    """ "2026-01-05 to 2026-03-01" (or with a space or "..") as its first and last day;
    ValueError saying what is wrong."""
    said = text.replace("..", " ").replace(" to ", " ").split()
    if len(said) != 2:
        raise ValueError(f"Give {CUSTOM_HINT}.")
    try:
        first, last = (date.fromisoformat(d) for d in said)
    except ValueError:
        raise ValueError(f"Days are written 2026-01-05: give {CUSTOM_HINT}.") from None
    if last < first:
        raise ValueError(f"The last day ({last}) comes before the first ({first}).")
    return first, last


def _problem(text: str) -> str | None:
    try:
        parse_days(text)
    except ValueError as error:
        return str(error)
    return None


class WindowPicker(Horizontal):
    """A choice of window and the days it covers; posts `WindowPicker.Changed`."""

    DEFAULT_CSS = """
    WindowPicker {
        width: auto;
        height: 1;
    }
    WindowPicker Select {
        width: 16;
        margin-right: 1;
    }
    WindowPicker #window-days {
        width: auto;
        color: $text-muted;
    }
    """

    class Changed(Message):
        def __init__(self, window: Window) -> None:
            super().__init__()
            self.window = window

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.window = Window()

    def compose(self) -> ComposeResult:
        yield Select[str](
            [*((f"{w} weeks", str(w)) for w in WEEKS), ("custom…", CUSTOM)],
            value=str(DEFAULT_WEEKS),
            allow_blank=False,
            compact=True,
            id="window-choice",
        )
        yield Static("", id="window-days")

    def show(self, span: tuple[datetime, datetime]) -> None:
        """Say which days the figures shown cover (`to` excluded)."""
        start, end = span
        self.query_one("#window-days", Static).update(
            f"{day(start)} to {day(end - timedelta(minutes=1))}"
        )

    @on(Select.Changed, "#window-choice")
    def chosen(self, event: Select.Changed) -> None:
        event.stop()
        value = str(event.value)
        if value != CUSTOM:
            self.choose(Window(weeks=int(value)))
            return
        current = self.window
        said = f"{current.first} to {current.last}" if current.weeks is None else ""
        form = FormPrompt(
            "Metrics window: which days?",
            [
                Field(
                    "days",
                    "First and last day",
                    value=said,
                    placeholder="2026-01-05 to 2026-03-01",
                    required=f"Give {CUSTOM_HINT}.",
                    check=_problem,
                )
            ],
        )
        self.app.push_screen(form, self.custom)

    def custom(self, answer: dict[str, str] | None) -> None:
        if answer is None:  # cancelled: the choice goes back to what is shown
            select = self.query_one("#window-choice", Select)
            with self.prevent(Select.Changed):
                select.value = CUSTOM if self.window.weeks is None else str(self.window.weeks)
            return
        first, last = parse_days(answer["days"])
        self.choose(Window(weeks=None, first=first, last=last))

    def choose(self, window: Window) -> None:
        if window != self.window:
            self.window = window
            self.post_message(self.Changed(window))
