"""The demo ends at the start of the week, so a seed gives the same organisation all week."""

from __future__ import annotations

from datetime import UTC, datetime

from loopline.demo import default_anchor


def test_every_moment_of_a_week_has_the_same_anchor() -> None:
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    for moment in (
        monday,
        datetime(2026, 11, 25, 13, 7, tzinfo=UTC),
        datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC),
    ):
        assert default_anchor(moment) == monday
    assert default_anchor(datetime(2026, 11, 30, 0, 0, 1, tzinfo=UTC)) == datetime(
        2026, 11, 30, tzinfo=UTC
    )
