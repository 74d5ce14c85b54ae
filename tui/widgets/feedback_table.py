"""The inbox table: one row per feedback item, updated in place as items change."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from uuid import UUID

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets.data_table import RowDoesNotExist

from tui.client import FeedbackItem
from tui.formatting import STATUS_STYLE, day, nps
from tui.widgets.fit_table import Cell, FitTable, flat

COLUMNS = (
    ("sel", ""),
    ("key", "Key"),
    ("status", "Status"),
    ("received", "Received"),
    ("channel", "Channel"),
    ("team", "Team"),
    ("nps", "NPS"),
    ("text", "Text"),
)


class FeedbackTable(FitTable):
    """Rows keyed by feedback key; the items themselves are kept beside the rows."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, flex="text", id=id)
        self.items: dict[str, FeedbackItem] = {}
        self.keys: dict[UUID, str] = {}
        self.selected: set[str] = set()

    def cells(self, item: FeedbackItem) -> tuple[Cell, ...]:
        return (
            "●" if item.key in self.selected else " ",
            item.key,
            Text(item.status, style=STATUS_STYLE.get(item.status, "")),
            day(item.received_at),
            item.channel,
            item.team or "",
            nps(item.nps),
            flat(item.text),
        )

    def reset(self) -> None:
        self.fill([])
        self.items.clear()
        self.keys.clear()
        self.selected.clear()

    def append(self, items: Iterable[FeedbackItem]) -> None:
        fresh = []
        for item in items:
            if item.key in self.items:
                # A page read before a live change must not undo it on screen.
                if self.items[item.key].version < item.version:
                    self.put(item)
                continue
            self.items[item.key] = item
            self.keys[item.id] = item.key
            fresh.append((item.key, self.cells(item)))
        self.add(fresh)

    def put(self, item: FeedbackItem) -> None:
        """Replace a row's item, updating only the cells that changed."""
        old = self.items.get(item.key)
        self.items[item.key] = item
        self.keys[item.id] = item.key
        if old is None:
            self.add([(item.key, self.cells(item))])
            return
        for (column, _), before, after in zip(
            COLUMNS, self.cells(old), self.cells(item), strict=True
        ):
            if before != after:
                self.set(item.key, column, after)

    def drop(self, key: str) -> None:
        dropped = self.items.pop(key, None)
        if dropped is not None:
            self.keys.pop(dropped.id, None)
        self.selected.discard(key)
        with contextlib.suppress(RowDoesNotExist):
            self.remove_row(key)

    def toggle(self, key: str) -> None:
        if key in self.selected:
            self.selected.discard(key)
        else:
            self.selected.add(key)
        self.set(key, "sel", "●" if key in self.selected else " ")

    def current(self) -> FeedbackItem | None:
        if not self.row_count or not self.is_valid_row_index(self.cursor_row):
            return None
        row_key, _ = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0))
        return self.items.get(str(row_key.value))
