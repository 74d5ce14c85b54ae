"""Relative and ISO days for the defer dialog, counted from a fixed Monday."""

from __future__ import annotations

from datetime import date

import pytest

from tui.dates import parse_day

MONDAY = date(2026, 3, 2)


@pytest.mark.parametrize(
    ("said", "day"),
    [
        ("2026-04-01", date(2026, 4, 1)),
        ("today", MONDAY),
        ("tomorrow", date(2026, 3, 3)),
        ("next monday", date(2026, 3, 9)),
        ("monday", date(2026, 3, 9)),
        ("Friday", date(2026, 3, 6)),
        ("in 2 weeks", date(2026, 3, 16)),
        ("3d", date(2026, 3, 5)),
        ("in 1 month", date(2026, 4, 2)),
        ("next week", date(2026, 3, 9)),
    ],
)
def test_days_people_say(said: str, day: date) -> None:
    assert parse_day(said, MONDAY) == day


def test_a_day_it_does_not_understand_says_what_it_does() -> None:
    with pytest.raises(ValueError, match="next monday"):
        parse_day("someday", MONDAY)
    with pytest.raises(ValueError, match="Say when"):
        parse_day("  ", MONDAY)
