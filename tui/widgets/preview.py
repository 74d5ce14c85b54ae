"""The preview pane: the highlighted item's text and who said it (no I/O)."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from tui.client import FeedbackItem
from tui.formatting import when


class Preview(Static):
    def show(self, item: FeedbackItem | None) -> None:
        if item is None:
            self.update("Nothing here — change the filters or press r.")
            return
        head = Text.assemble(
            (item.key, "bold"),
            f"  {item.status}  {item.channel}/{item.touchpoint}  {when(item.received_at)}",
        )
        who = f"{item.customer_ref or 'anonymous'}" + (f" ({item.segment})" if item.segment else "")
        lines: list[Text] = [head, Text(who, style="italic")]
        if item.nps is not None:
            lines.append(Text(f"NPS {item.nps}: {item.nps_reason or '—'}"))
        extra = []
        if item.team:
            extra.append(f"team {item.team}")
        if item.decision:
            extra.append(f"decision {item.decision}")
        if item.duplicate_of_key:
            extra.append(f"duplicate of {item.duplicate_of_key}")
        if item.duplicates:
            extra.append(f"{item.duplicates} duplicates merged")
        if item.deferred_until:
            extra.append(f"deferred until {item.deferred_until.isoformat()}")
        if item.reason:
            extra.append(f"reason: {item.reason}")
        if extra:
            lines.append(Text(" · ".join(extra), style="dim"))
        lines.append(Text(item.text))
        self.update(Group(*lines))
