"""A DataTable whose columns fit their content on the first paint, one column giving way.

Textual's DataTable measures cells only when the table next goes idle, and a row painted
before that keeps its header-width render in the table's caches (Textual issue #3533):
keys and dates showed cut (`FB-  new  2026-11-`) until something forced a relayout, and
snapshots depended on whether a paint landed first. Here every column's width is measured
as the rows go in, the caches are dropped whenever a width changes, and the one `flex`
column (long text) takes the width that is left, cropped with an ellipsis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import RenderableType
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

Cell = str | Text

# The long-text column never shrinks below this (the rest of the table scrolls instead).
MIN_FLEX = 12


def plain(value: Cell) -> Text:
    """A cell as text that is never read as markup (customers write `[brackets]`)."""
    if isinstance(value, Text):
        return value
    return Text(value, end="")


def flat(text: str, style: str = "") -> Text:
    """Long text on one line, cropped with an ellipsis by the column's width."""
    return Text(" ".join(text.split()), style=style, no_wrap=True, overflow="ellipsis", end="")


class FitTable(DataTable[RenderableType]):
    """Rows keyed by a string; `columns` are (key, label); `flex` names the column that
    gives way (None: the table is as wide as its content, see `natural_width`)."""

    DEFAULT_CSS = """
    FitTable {
        scrollbar-gutter: stable;
    }
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        *,
        flex: str | None = None,
        id: str | None = None,
        zebra_stripes: bool = True,
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=zebra_stripes)
        self.spec = tuple(columns)
        self.flex = flex
        self.widths: dict[str, int] = {key: cell_len(label) for key, label in self.spec}

    def on_mount(self) -> None:
        for key, label in self.spec:
            self.add_column(label, key=key)
        self.fit()

    # --- rows ------------------------------------------------------------------------------

    def fill(self, rows: Iterable[tuple[str, Sequence[Cell]]]) -> None:
        """Replace every row, keeping the cursor on the same row number where possible."""
        row = self.cursor_row
        self.clear()
        self.widths = {key: cell_len(label) for key, label in self.spec}
        self.add(rows)
        if self.row_count:
            self.move_cursor(row=min(max(row, 0), self.row_count - 1))

    def add(self, rows: Iterable[tuple[str, Sequence[Cell]]]) -> None:
        for key, cells in rows:
            texts = [plain(c) for c in cells]
            self.add_row(*texts, key=key)
            self._measure(texts)
        self.fit()

    def set(self, key: str, column: str, value: Cell) -> None:
        text = plain(value)
        self.update_cell(key, column, text)
        if column != self.flex and text.cell_len > self.widths[column]:
            self.widths[column] = text.cell_len
            self.fit()

    def _measure(self, texts: Sequence[Text]) -> None:
        widths = self.widths
        for (key, _), text in zip(self.spec, texts, strict=True):
            if key != self.flex and text.cell_len > widths[key]:
                widths[key] = text.cell_len

    # --- widths ----------------------------------------------------------------------------

    def natural_width(self) -> int:
        """Columns, their padding and the scrollbar's gutter: the width that shows all."""
        pad = 2 * self.cell_padding
        return sum(w + pad for w in self.widths.values()) + self.styles.scrollbar_size_vertical

    def flex_width(self) -> int:
        pad = 2 * self.cell_padding
        others = sum(w + pad for k, w in self.widths.items() if k != self.flex)
        room = self.scrollable_content_region.width or self.size.width
        return max(MIN_FLEX, room - others - pad)

    def fitted(self) -> bool:
        """Laid out, and every column at the width it should have at this size."""
        if not self.size.width or not self.columns:
            return False
        for key, width in self.widths.items():
            column = self.columns.get(ColumnKey(key))
            want = self.flex_width() if key == self.flex else width
            if column is None or column.auto_width or column.width != want:
                return False
        return True

    def fit(self) -> None:
        """Give each column its measured width (the flex column what is left) now, so the
        next paint is right, and forget renders made at the old widths."""
        if not self.columns:
            return
        changed = False
        for key, width in self.widths.items():
            column = self.columns.get(ColumnKey(key))
            if column is None:
                continue
            if key == self.flex:
                width = self.flex_width()
            if column.auto_width or column.width != width:
                column.auto_width = False
                column.width = width
                changed = True
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            sum(c.get_render_width(self) for c in self.columns.values()), self.row_count + header
        )
        if changed:
            self._clear_caches()
            self._update_count += 1
            self.refresh()

    def _on_resize(self, event: events.Resize) -> None:
        super()._on_resize(event)
        self.fit()
