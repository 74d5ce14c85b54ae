"""How the TUI writes times, durations and statuses: absolute and in UTC, so a screen
reads the same for everyone (and in snapshot tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime

STATUS_STYLE = {
    "new": "bold dark_orange",
    "triaged": "dodger_blue1",
    "planned": "medium_purple1",
    "shipped": "green3",
    "closed": "green4",
    "declined": "grey50",
    "duplicate": "grey50",
    "deferred": "gold3",
}

TIER_STYLE = {"elite": "green3", "high": "dodger_blue1", "medium": "gold3", "low": "red3"}


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def day(moment: datetime | date | None) -> str:
    if moment is None:
        return "—"
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.isoformat()


def duration(seconds: float | None) -> str:
    """A span in the largest unit that keeps it readable (2.5d, 7.0h, 12m)."""
    if seconds is None:
        return "—"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 60:.0f}m"


def nps(score: int | None) -> str:
    return "" if score is None else str(score)


def count(shown: int, total: int | None, more: bool = False) -> str:
    """How many items a list shows of how many match: "12 items", "100 of 1,083 items"
    ("100+ items" when the total is not known)."""
    if total is None:
        return f"{shown:,}{'+' if more else ''} items"
    if total <= shown:
        return f"{shown:,} items"
    return f"{shown:,} of {total:,} items"


def clip(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
