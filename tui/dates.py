"""Days as people say them: ISO (2026-04-01), or relative to today ("tomorrow", "friday",
"next monday", "in 2 weeks", "3d")."""

from __future__ import annotations

import re
from datetime import date, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNITS = {"d": 1, "day": 1, "days": 1, "w": 7, "week": 7, "weeks": 7}
_SPAN = re.compile(r"^(?:in\s+)?(\d+)\s*(d|days?|w|weeks?|m|months?)$")

HINT = 'a date (2026-04-01) or "tomorrow", "friday", "next monday", "in 2 weeks", "3d"'


def _months(start: date, months: int) -> date:
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def parse_day(text: str, today: date) -> date:
    """The day `text` names, counted from `today`; ValueError saying what is understood."""
    said = " ".join(text.lower().split())
    if not said:
        raise ValueError(f"Say when: {HINT}.")
    try:
        return date.fromisoformat(said)
    except ValueError:
        pass
    if said == "today":
        return today
    if said == "tomorrow":
        return today + timedelta(days=1)
    if said in ("next week", "in a week"):
        return today + timedelta(days=7)
    if said in ("next month", "in a month"):
        return _months(today, 1)
    name = said.removeprefix("next ").removeprefix("on ")
    if name in WEEKDAYS:
        # "friday" and "next friday" both mean the coming one, never today.
        ahead = (WEEKDAYS.index(name) - today.weekday() - 1) % 7 + 1
        return today + timedelta(days=ahead)
    span = _SPAN.match(said)
    if span:
        count, unit = int(span.group(1)), span.group(2)
        if unit.startswith("m"):
            return _months(today, count)
        return today + timedelta(days=count * UNITS[unit])
    raise ValueError(f"{text.strip()!r} is not a day I understand: {HINT}.")
