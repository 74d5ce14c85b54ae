"""The metrics screen over a window chosen on screen, saying why a DORA tier is missing:
the real app against the real API."""

from __future__ import annotations

import httpx
from textual.widgets import Select, Static

from tests.tui.conftest import Session, screen_name
from tui.screens.metrics import MetricsScreen


def shown(session: Session, selector: str) -> str:
    return str(session.app.screen.query_one(selector, Static).render())


async def test_the_window_is_chosen_on_screen_and_a_missing_tier_says_why(
    session: Session, api: httpx.AsyncClient
) -> None:
    # Two deployments to production in February 2026, long before the app's now.
    for day in (10, 12):
        response = await api.post(
            "/api/increments",
            json={
                "service": "acme/invoices",
                "environment": "production",
                "release_version": f"v1.{day}",
                "finished_at": f"2026-02-{day}T12:00:00+00:00",
            },
        )
        response.raise_for_status()
    await session.press("m")
    await session.wait(lambda: screen_name(session.app) == "MetricsScreen")
    screen = session.app.screen
    assert isinstance(screen, MetricsScreen)
    # The last 12 weeks hold none of them.
    await session.wait(lambda: "0/0" in shown(session, "#tile-2"))
    # Custom days: a last day before the first keeps the dialog open and says why.
    screen.query_one("#window-choice", Select).value = "custom"
    await session.prompt("FormPrompt")
    await session.press(*"2026-02-28 to 2026-02-01", "enter")
    await session.wait(lambda: "comes before" in shown(session, "#error"))
    # February: both deployments, and the failure rate has no tier, saying why.
    await session.press("ctrl+u", *"2026-02-01 to 2026-02-28", "enter")
    await session.prompt("MetricsScreen")
    await session.wait(lambda: "0/2" in shown(session, "#tile-2"))
    assert "2026-02-01 to 2026-02-28" in shown(session, "#window-days")
    await session.wait(lambda: "Failures: too few" in shown(session, "#tier-notes"))
    # Back to the last four weeks: none again.
    screen.query_one("#window-choice", Select).value = "4"
    await session.wait(lambda: "0/0" in shown(session, "#tile-2"))
