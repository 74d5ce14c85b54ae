"""Small modal screens: a form that validates in place, pick one of a list, find an item."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from tui.client import ApiClient, ApiError
from tui.formatting import clip
from tui.keys import Section, bind


@dataclass(frozen=True)
class Field:
    """One answer of a form. `options` (value, label) make it a choice; `required` is what
    to say when it is left empty; `check` returns what is wrong with an answer, or None."""

    name: str
    label: str
    value: str = ""
    placeholder: str = ""
    required: str | None = None
    options: Sequence[tuple[str, str]] | None = None
    check: Callable[[str], str | None] | None = None


class FormPrompt(ModalScreen[dict[str, str] | None]):
    """A dialog of one or more fields. Enter (or ctrl+s) submits: every field is checked,
    and a wrong one keeps the dialog open, says why under the fields and takes the focus.
    Escape cancels (None). The answer maps each field's name to its text ("" when empty)."""

    CSS_PATH = "prompts.tcss"
    BINDINGS = [
        bind(
            "escape",
            "cancel",
            "Cancel",
            "Cancel: close the dialog, change nothing",
            id="prompt.cancel",
            section=Section.MOVE,
        ),
        bind("ctrl+s", "submit", "Save", "Save the answers", id="prompt.save", section=Section.ACT),
    ]

    def __init__(self, title: str, fields: Sequence[Field]) -> None:
        super().__init__()
        self.title_text = title
        self.fields = tuple(fields)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            for field in self.fields:
                if len(self.fields) > 1 or field.options is not None:
                    yield Label(field.label, classes="field-label")
                if field.options is not None:
                    yield Select[str](
                        [(label, value) for value, label in field.options],
                        value=field.value or Select.NULL,
                        allow_blank=field.required is None or not field.value,
                        id=f"field-{field.name}",
                        compact=True,
                    )
                else:
                    yield Input(
                        value=field.value,
                        placeholder=field.placeholder or field.label,
                        id=f"field-{field.name}",
                    )
            yield Static("", id="error", classes="dialog-error")
            yield Label("enter saves · tab next field · esc cancels", classes="dialog-hint")

    def answer(self, field: Field) -> str:
        widget = self.query_one(f"#field-{field.name}")
        if isinstance(widget, Select):
            value = widget.value
            return "" if value is Select.NULL else str(value)
        assert isinstance(widget, Input)
        return widget.value.strip()

    def problem(self, field: Field, answer: str) -> str | None:
        if not answer:
            return field.required
        return field.check(answer) if field.check else None

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        answers = {f.name: self.answer(f) for f in self.fields}
        for field in self.fields:
            problem = self.problem(field, answers[field.name])
            if problem:
                self.query_one("#error", Static).update(problem)
                self.query_one(f"#field-{field.name}").focus()
                return
        self.dismiss(answers)

    def action_cancel(self) -> None:
        self.dismiss(None)


def close_loop_form(what: str) -> FormPrompt:
    """Closing the loop on `what` (an item's key, "3 items"): how the customer was told."""
    return _how_form(f"Close the loop on {what}: how was the customer told?", "told")


def follow_up_form(what: str) -> FormPrompt:
    """Following up on `what` (a detractor's call back): how the customer was contacted."""
    return _how_form(f"Follow up on {what}: how was the customer contacted?", "contacted")


def _how_form(title: str, done: str) -> FormPrompt:
    return FormPrompt(
        title,
        [
            Field(
                "how",
                "How",
                placeholder="email, call, in-app, changelog…",
                required=f"Say how the customer was {done} (email, call, in-app…).",
            ),
            Field("note", "Note (optional)"),
        ],
    )


class PickPrompt(ModalScreen[str | None]):
    """Pick one option (by its id); Escape cancels (None)."""

    CSS_PATH = "prompts.tcss"
    BINDINGS = [
        bind(
            "escape",
            "cancel",
            "Cancel",
            "Cancel: close the dialog, change nothing",
            id="prompt.cancel",
            section=Section.MOVE,
        ),
        bind(
            "j", "down", "Down", "Next choice", show=False, id="prompt.down", section=Section.MOVE
        ),
        bind("k", "up", "Up", "Previous choice", show=False, id="prompt.up", section=Section.MOVE),
    ]

    def __init__(self, title: str, options: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield OptionList(*(Option(label, id=ident) for ident, label in self.options))

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        options.highlighted = 0 if self.options else None

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class FindPrompt(ModalScreen[str | None]):
    """Find a feedback item by full-text search and pick it (its key). With `suggest_for`,
    the items that one may duplicate are listed first, before anything is typed."""

    CSS_PATH = "prompts.tcss"
    BINDINGS = [
        bind(
            "escape",
            "cancel",
            "Cancel",
            "Cancel: close the dialog, change nothing",
            id="prompt.cancel",
            section=Section.MOVE,
        ),
        bind(
            "down",
            "results",
            "Results",
            "Into the results",
            show=False,
            id="prompt.results",
            section=Section.MOVE,
        ),
    ]

    def __init__(
        self,
        title: str,
        client: ApiClient,
        *,
        exclude: str | None = None,
        suggest_for: str | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.client = client
        self.exclude = exclude
        self.suggest_for = suggest_for

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(placeholder="search words, or a key like FB-12", id="query")
            yield OptionList(id="results")

    def on_mount(self) -> None:
        if self.suggest_for is not None:
            self.suggest(self.suggest_for)

    # In the search's group: typing replaces the suggestions, and cancels them if they
    # have not arrived yet.
    @work(exclusive=True, group="find")
    async def suggest(self, key: str) -> None:
        try:
            suggestions = await self.client.similar(key)
        except ApiError as error:
            self.notify(error.detail, title="Suggestions", severity="error")
            return
        if self.query_one("#query", Input).value.strip():
            return
        results = self.query_one("#results", OptionList)
        results.clear_options()
        results.add_options(
            Option(f"{s.key}  {s.status:<9} {s.score:>4.0%}  {clip(s.text, 44)}", id=s.key)
            for s in suggestions
            if s.key != self.exclude
        )

    @on(Input.Changed, "#query")
    def changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        if not text and self.suggest_for is not None:
            self.suggest(self.suggest_for)
        else:
            self.search(text)

    @on(Input.Submitted, "#query")
    def submitted(self, event: Input.Submitted) -> None:
        results = self.query_one("#results", OptionList)
        text = event.value.strip().upper()
        if text.startswith("FB-"):
            self.dismiss(text)
        elif results.option_count:
            results.focus()
            results.highlighted = 0

    @work(exclusive=True, group="find")
    async def search(self, text: str) -> None:
        if len(text) < 2:
            return
        try:
            page = await self.client.feedback(q=text, limit=20)
        except ApiError as error:
            self.notify(error.detail, title=error.title, severity="error")
            return
        results = self.query_one("#results", OptionList)
        results.clear_options()
        results.add_options(
            Option(f"{i.key}  {i.status:<9} {clip(i.text, 50)}", id=i.key)
            for i in page.items
            if i.key != self.exclude
        )

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_results(self) -> None:
        results = self.query_one("#results", OptionList)
        results.focus()
        if results.highlighted is None and results.option_count:
            results.highlighted = 0

    def action_cancel(self) -> None:
        self.dismiss(None)
