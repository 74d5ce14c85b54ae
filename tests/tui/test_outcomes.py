"""The outcomes screen: each outcome's scorecard (teams, open items, demand, NPS, time to
ship), following the event stream. The real app against the real API."""

from __future__ import annotations

import httpx

from tests.tui.conftest import Session, screen_name, screen_text
from tui.screens.outcomes import OutcomesScreen


async def test_each_outcome_shows_its_scorecard_and_follows_triage_live(
    session: Session, api: httpx.AsyncClient
) -> None:
    await session.press("O")
    await session.wait(lambda: screen_name(session.app) == "OutcomesScreen")
    screen = session.app.screen
    assert isinstance(screen, OutcomesScreen)

    def card() -> str:
        return screen_text(session.app)

    await session.wait(lambda: screen.loaded and "No outcomes yet" in card())
    # Billing adopts an outcome; an ask from a detractor is triaged to it.
    defined = await api.post(
        "/api/outcomes",
        json={
            "statement": "Invoices are right the first time",
            "measure": "credit notes per 1,000 invoices",
            "team": "billing",
        },
    )
    defined.raise_for_status()
    outcome = defined.json()["id"]
    scored = await api.post(
        "/api/feedback",
        json={"text": "Wrong VAT again", "channel": "survey", "nps": 3, "customer_ref": "c-9"},
    )
    scored.raise_for_status()
    triaged = await api.post(
        f"/api/feedback/{scored.json()['key']}/triage",
        json={"team": "billing", "outcome": outcome},
    )
    triaged.raise_for_status()
    # Its scorecard appears without a refresh: teams, items, demand, NPS.
    await session.wait(lambda: "1 items aligned, 1 open" in card())
    assert "Invoices are right the first time" in card()
    assert "teams: billing" in card()
    assert "NPS -100 from 1 responses" in card()
    # Someone triages another ask to it: the scorecard follows.
    await api.post(
        f"/api/feedback/{session.keys[0]}/triage", json={"team": "billing", "outcome": outcome}
    )
    await session.wait(lambda: "2 items aligned, 2 open" in card())
