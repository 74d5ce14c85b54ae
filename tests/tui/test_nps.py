"""NPS in the terminal UI: the score with its margin, the why, and the detractors owed a
follow-up, live; from the queue an item opens or its loop is closed. The real app against
the real API."""

from __future__ import annotations

import httpx
from textual.widgets import Static

from tests.tui.conftest import Session, item, messages, screen_name
from tui.screens.detail import DetailScreen
from tui.screens.nps import NpsScreen


async def answer(api: httpx.AsyncClient, score: int, why: str) -> str:
    """A survey answer received now (inside the screen's default window); its key."""
    response = await api.post(
        "/api/feedback",
        json={"text": "Survey answer", "channel": "survey", "nps": score, "nps_reason": why},
    )
    response.raise_for_status()
    key: str = response.json()["key"]
    return key


async def open_nps(session: Session) -> NpsScreen:
    """The NPS screen, its first figures shown (none yet: the answers come live)."""
    await session.press("n")
    await session.wait(lambda: screen_name(session.app) == "NpsScreen")
    screen = session.app.screen
    assert isinstance(screen, NpsScreen)
    await session.wait(lambda: screen.loaded)
    assert "no responses" in summary(screen)
    return screen


def summary(screen: NpsScreen) -> str:
    return str(screen.query_one("#nps-summary", Static).render())


async def test_nps_its_why_and_the_follow_up_queue_follow_new_answers(
    session: Session, api: httpx.AsyncClient
) -> None:
    screen = await open_nps(session)
    # Two promoters and a detractor whose why names the slow export.
    await answer(api, 10, "Great support")
    await answer(api, 9, "Great support")
    angry = await answer(api, 2, "The export is slow and slow again")
    # NPS = 100 * (2 - 1) / 3 = +33, with its margin; the detractor waits for a call back.
    await session.wait(lambda: "NPS +33 ±" in summary(screen))
    assert "3 responses" in summary(screen)
    queue = screen.query_one("#queue")
    await session.wait(lambda: angry in screen.waiting)
    # The why's theme: "slow" marks the detractor.
    themes = screen.query_one("#themes")
    await session.wait(lambda: "term:slow" in [k.value for k in getattr(themes, "rows", {})])
    # Another detractor answers: the screen follows again.
    later = await answer(api, 0, "Slow")
    await session.wait(lambda: later in screen.waiting and "4 responses" in summary(screen))
    assert getattr(queue, "row_count", 0) == 2


async def test_from_the_queue_an_item_opens_is_followed_up_or_its_loop_closes(
    session: Session, api: httpx.AsyncClient
) -> None:
    screen = await open_nps(session)
    first = await answer(api, 1, "Nobody called me back")
    second = await answer(api, 4, "Still broken")
    await session.wait(lambda: {first, second} <= set(screen.waiting))
    screen.query_one("#queue").focus()
    # Enter opens the oldest detractor's item; escape comes back to the queue.
    await session.press("enter")
    await session.wait(lambda: isinstance(session.app.screen, DetailScreen))
    detail = session.app.screen
    assert isinstance(detail, DetailScreen)
    await session.wait(lambda: detail.loaded and detail.key == first)
    await session.press("escape")
    await session.wait(lambda: session.app.screen is screen)
    # A new item's loop cannot close yet: the server says why, and it keeps waiting.
    await session.press("c")
    await session.prompt("FormPrompt")
    await session.press(*"call", "enter")
    await session.wait(lambda: any("close the loop" in m for m in messages(session.app)))
    assert first in screen.waiting
    # A call back is a follow-up in any status: it leaves the queue.
    await session.press("f")
    await session.prompt("FormPrompt")
    await session.press(*"call", "enter")
    await session.wait(lambda: first not in screen.waiting)
    assert (await item(api, first))["status"] == "new"
    # Once the other is declined, closing its loop by email is its follow-up.
    await api.post(f"/api/feedback/{second}/decline", json={"reason": "Working as intended"})
    await session.wait(lambda: getattr(screen.current(), "item_status", None) == "declined")
    await session.press("c")
    await session.prompt("FormPrompt")
    await session.press(*"email", "enter")
    await session.wait(lambda: second not in screen.waiting)
    assert (await item(api, second))["loop_closed_how"] == "email"
