"""The backlog across teams: who owns each decision, ranking within a team, deciding on a
proposal, following the live stream."""

from __future__ import annotations

import httpx
from textual.coordinate import Coordinate
from textual.message import Message

from tests.conftest import ADMIN_TOKEN
from tests.tui.conftest import Held, Session, loading, messages, screen_name, seed, until
from tui.app import LooplineApp
from tui.screens.backlog import BacklogScreen
from tui.widgets.fit_table import FitTable


async def decide(api: httpx.AsyncClient, team: str, title: str, *, accept: bool) -> str:
    response = await api.post(
        "/api/decisions", json={"team": team, "title": title, "rationale": "because"}
    )
    response.raise_for_status()
    key: str = response.json()["key"]
    if accept:
        (await api.post(f"/api/decisions/{key}/accept", json={})).raise_for_status()
    return key


def rows(session: Session) -> list[tuple[str, str, str]]:
    """(team, rank, key) of each row, top to bottom."""
    table = session.app.screen.query_one("#decisions", FitTable)
    return [
        (
            str(table.get_cell_at(Coordinate(n, 0))),
            str(table.get_cell_at(Coordinate(n, 1))),
            str(table.get_cell_at(Coordinate(n, 2))),
        )
        for n in range(table.row_count)
    ]


async def open_backlog(session: Session, count: int) -> BacklogScreen:
    await session.press("b")
    await session.wait(lambda: screen_name(session.app) == "BacklogScreen")
    screen = session.app.screen
    assert isinstance(screen, BacklogScreen)
    await session.wait(lambda: len(screen.decisions) == count)
    return screen


async def test_all_teams_backlog_shows_each_team_and_moves_within_it(
    session: Session, api: httpx.AsyncClient
) -> None:
    b1 = await decide(api, "billing", "Bulk export", accept=True)
    b2 = await decide(api, "billing", "Cost centres", accept=True)
    o1 = await decide(api, "onboarding", "Invite from the first screen", accept=True)
    proposal = await decide(api, "billing", "Dark mode", accept=False)
    for key, position in ((b1, 1), (b2, 2), (o1, 1)):
        response = await api.post(f"/api/decisions/{key}/rank", json={"position": position})
        response.raise_for_status()
    screen = await open_backlog(session, 4)
    await session.wait(lambda: rows(session)[1] == ("billing", "2", b2))
    # Ranks are per team, so each row says whose it is; proposals (unranked) come last.
    assert rows(session) == [
        ("billing", "1", b1),
        ("billing", "2", b2),
        ("billing", "—", proposal),
        ("onboarding", "1", o1),
    ]
    # K on a proposal says what to do instead of a server error.
    await session.press("j", "j", "K")
    await session.wait(lambda: any(f"{proposal} is proposed" in m for m in messages(session.app)))
    # Move the second billing decision up: the highlight follows it to the top.
    await session.press("k", "K")
    await session.wait(lambda: ("billing", "1", b2) in rows(session))
    await session.wait(lambda: screen.current() is not None and screen.current().key == b2)  # type: ignore[union-attr]
    assert not any("cannot rank" in m for m in messages(session.app))


async def test_backlog_follows_new_decisions_without_a_refresh(
    session: Session, api: httpx.AsyncClient
) -> None:
    screen = await open_backlog(session, 0)
    key = await decide(api, "onboarding", "Welcome tour covers integrations", accept=True)
    await session.wait(lambda: [d.key for d in screen.decisions] == [key])


async def test_a_live_reload_keeps_the_decision_the_user_moved_to(
    api_server: str, api: httpx.AsyncClient
) -> None:
    keys = await seed(api, 1)
    ranked = [await decide(api, "billing", f"Decision {n}", accept=True) for n in range(3)]
    transport = Held("/api/decisions")
    app = LooplineApp(api_server, ADMIN_TOKEN, transport=transport)
    seen: list[Message] = []
    async with app.run_test(size=(120, 40), notifications=True, message_hook=seen.append) as p:
        session = Session(app, p, keys, seen)
        await session.wait(lambda: app.sub_title == "live")
        screen = await open_backlog(session, 3)
        await session.wait(lambda: not loading(app, "backlog"))
        # A decision proposed elsewhere: the backlog reloads, its answer slow to come.
        transport.hold.set()
        await decide(api, "billing", "Proposed elsewhere", accept=False)
        await until(p, transport.held.is_set)
        # Meanwhile the user moves to the third decision.
        await session.press("j", "j")
        moved_to = screen.current()
        assert moved_to is not None
        assert moved_to.key == ranked[2]
        transport.release.set()
        await session.wait(lambda: len(screen.decisions) == 4)
        current = screen.current()
        assert current is not None
        assert current.key == ranked[2]
