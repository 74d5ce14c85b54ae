"""Fixed points in the recent past, so stories read in order and validation stays happy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = (datetime.now(UTC) - timedelta(days=60)).replace(microsecond=0)


def day(n: float) -> datetime:
    """`n` days after the start of the story."""
    return START + timedelta(days=n)
