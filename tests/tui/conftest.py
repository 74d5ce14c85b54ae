"""TUI test helpers: seed the real API, wait for the app to show what we expect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
from textual.pilot import Pilot

TODAY = date(2026, 3, 2)


def today() -> date:
    return TODAY


async def until(pilot: Pilot[None], condition: Callable[[], object], seconds: float = 10.0) -> None:
    """Let the app run until `condition()` holds (AssertionError after `seconds`)."""
    waited = 0.0
    while not condition():
        if waited >= seconds:
            raise AssertionError(f"timed out after {seconds}s waiting for the app")
        await pilot.pause(0.02)
        waited += 0.02


async def seed(api: httpx.AsyncClient, items: int = 5) -> list[str]:
    """Two teams and `items` new feedback items (oldest first); their keys."""
    for slug, name in (("billing", "Billing"), ("onboarding", "Onboarding")):
        (await api.post("/api/teams", json={"slug": slug, "name": name})).raise_for_status()
    keys = []
    for n in range(items):
        response = await api.post(
            "/api/feedback",
            json={
                "text": f"Invoice export number {n} is broken",
                "channel": "email",
                "touchpoint": "billing",
                "customer": f"cust-{n}",
                "received_at": f"2026-02-{n + 1:02d}T10:00:00+00:00",
            },
        )
        response.raise_for_status()
        keys.append(response.json()["key"])
    return keys


async def item(api: httpx.AsyncClient, key: str) -> dict[str, object]:
    response = await api.get(f"/api/feedback/{key}")
    response.raise_for_status()
    found: dict[str, object] = response.json()["item"]
    return found
