"""The main triage flows, driven through the real app against a real API server; the
server's state is checked through the API afterwards."""

from __future__ import annotations

import httpx
from textual.widgets import OptionList

from tests.tui.conftest import Session, choose, item
from tui.messages import LiveChange
from tui.screens.detail import DetailScreen


async def test_triage_moves_the_item_out_of_the_inbox(
    session: Session, api: httpx.AsyncClient
) -> None:
    # The newest item is on top; triage it into the first team (billing).
    await session.press("t")
    await session.prompt("FormPrompt")
    await session.press("ctrl+s")
    await session.wait(lambda: session.table.row_count == 3)
    found = await item(api, session.keys[3])
    assert found["status"] == "triaged"
    teams = {t["id"]: t["slug"] for t in (await api.get("/api/teams")).json()}
    assert teams[found["team_id"]] == "billing"


async def test_decline_with_a_reason_then_undo_takes_it_back(
    session: Session, api: httpx.AsyncClient
) -> None:
    # Decline the top item with a reason.
    await session.press("3")
    await session.prompt("FormPrompt")
    await session.press(*"Not our product")
    await session.press("enter")
    await session.wait(lambda: session.table.row_count == 3)
    found = await item(api, session.keys[3])
    assert (found["status"], found["reason"]) == ("declined", "Not our product")
    # Undo: the item is new again and back in the inbox; its history shows one correction.
    await session.press("u")
    await session.wait(lambda: session.table.row_count == 4)
    detail = (await api.get(f"/api/feedback/{session.keys[3]}")).json()
    assert (detail["item"]["status"], detail["item"]["reason"]) == ("new", None)
    assert [h["event"] for h in detail["history"]] == ["Received", "Declined", "Corrected"]


async def test_undo_goes_back_several_actions(session: Session, api: httpx.AsyncClient) -> None:
    key = session.keys[3]
    # Triage the top item into billing, then (showing every status) defer it.
    await session.press("slash")
    await session.show("any")
    await session.press("escape", "g", "t")
    await session.prompt("FormPrompt")
    await session.press("ctrl+s")
    await session.wait(lambda: session.table.items[key].status == "triaged")
    await session.press("g", "h")
    await session.prompt("FormPrompt")
    await session.press("ctrl+u", *"2099-01-31", "enter")
    await session.wait(lambda: session.table.items[key].status == "deferred")
    # Two undos: first the defer (triaged, no deferral date), then the triage (new, no team).
    await session.press("u")
    await session.wait(
        lambda: (row := session.table.items.get(key)) is not None and row.status == "triaged"
    )
    found = await item(api, key)
    assert (found["status"], found["deferred_until"]) == ("triaged", None)
    await session.press("u")
    await session.wait(
        lambda: (row := session.table.items.get(key)) is not None and row.status == "new"
    )
    found = await item(api, key)
    assert (found["status"], found["team_id"]) == ("new", None)


async def test_defer_until_a_date(session: Session, api: httpx.AsyncClient) -> None:
    await session.press("j", "h")
    await session.prompt("FormPrompt")
    # Replace the suggested day.
    await session.press("ctrl+u", *"2099-01-31", "enter")
    await session.wait(lambda: session.table.row_count == 3)
    found = await item(api, session.keys[2])
    assert (found["status"], found["deferred_until"]) == ("deferred", "2099-01-31")


async def test_duplicate_of_an_item_found_by_search(
    session: Session, api: httpx.AsyncClient
) -> None:
    original = session.keys[0]
    # Search by words, then pick the original from the results.
    await session.press("2")
    await session.prompt("FindPrompt")
    await session.press(*"number 0")
    results = session.app.screen.query_one("#results")
    await session.wait(lambda: getattr(results, "option_count", 0) == 1)
    await session.press("down", "enter")
    await session.wait(lambda: session.table.row_count == 3)
    found = await item(api, session.keys[3])
    assert found["status"] == "duplicate"
    original_item = await item(api, original)
    assert found["duplicate_of"] == original_item["id"]
    duplicates = original_item["duplicate_ids"]
    assert isinstance(duplicates, list)
    assert found["id"] in duplicates


async def test_duplicate_picker_lists_the_suggestions_first(
    session: Session, api: httpx.AsyncClient
) -> None:
    # Nothing typed yet: the picker already lists the items this one may duplicate.
    await session.press("2")
    await session.prompt("FindPrompt")
    results = session.app.screen.query_one("#results", OptionList)
    await session.wait(lambda: results.option_count == 3)
    listed = [results.get_option_at_index(n).id for n in range(3)]
    assert sorted(str(k) for k in listed) == sorted(session.keys[:3])
    await session.press("down", "enter")
    await session.wait(lambda: session.table.row_count == 3)
    found = await item(api, session.keys[3])
    assert found["status"] == "duplicate"
    assert found["duplicate_of"] == (await item(api, str(listed[0])))["id"]


async def test_bulk_triage_then_undo(session: Session, api: httpx.AsyncClient) -> None:
    # Select three items with space, then triage them together into onboarding.
    await session.press("space", "j", "space", "j", "space")
    await session.wait(lambda: len(session.table.selected) == 3)
    await session.press("t")
    await session.prompt("FormPrompt")
    await choose(session, "team", "onboarding")
    await session.press("ctrl+s")
    await session.wait(lambda: session.table.row_count == 1)
    triaged = [await item(api, k) for k in session.keys[1:]]
    assert {i["status"] for i in triaged} == {"triaged"}
    assert len({i["team_id"] for i in triaged}) == 1
    assert (await item(api, session.keys[0]))["status"] == "new"
    # Undo takes back all three with one correction each: they are new again.
    await session.press("u")
    await session.wait(lambda: session.table.row_count == 4)
    assert {(await item(api, k))["status"] for k in session.keys} == {"new"}


async def test_undo_of_a_re_triage_restores_the_previous_team(
    session: Session, api: httpx.AsyncClient
) -> None:
    key = session.keys[3]
    (await api.post(f"/api/feedback/{key}/triage", json={"team": "billing"})).raise_for_status()
    # Show every status, so the item stays on screen.
    await session.press("slash")
    await session.show("any")
    await session.wait(
        lambda: (row := session.table.items.get(key)) is not None and row.team == "billing"
    )
    await session.press("escape", "g", "t")
    await session.prompt("FormPrompt")
    await choose(session, "team", "onboarding")
    await session.press("ctrl+s")
    await session.wait(lambda: session.table.items[key].team == "onboarding")
    await session.press("u")
    await session.wait(
        lambda: key in session.table.items and session.table.items[key].team == "billing"
    )
    found = await item(api, key)
    teams = {t["id"]: t["slug"] for t in (await api.get("/api/teams")).json()}
    assert (found["status"], teams[found["team_id"]]) == ("triaged", "billing")


async def test_other_peoples_changes_appear_live(session: Session, api: httpx.AsyncClient) -> None:
    # Someone else triages an item: it leaves this inbox without a refresh.
    key = session.keys[1]
    (await api.post(f"/api/feedback/{key}/triage", json={"team": "billing"})).raise_for_status()
    await session.wait(lambda: key not in session.table.items)
    # They undo it: the item is new again and comes back, without a refresh.
    (await api.post(f"/api/feedback/{key}/undo")).raise_for_status()
    await session.wait(
        lambda: (row := session.table.items.get(key)) is not None and row.status == "new"
    )
    # A new item arrives: it appears, newest first.
    response = await api.post(
        "/api/feedback",
        json={"text": "Live one", "channel": "chat", "received_at": "2026-02-20T10:00:00Z"},
    )
    new_key = response.json()["key"]
    await session.wait(lambda: new_key in session.table.items)
    assert session.table.current() is not None
    assert session.table.get_row_index(new_key) == 0


async def test_each_live_change_is_handled_once_by_the_app_and_once_by_the_screen(
    session: Session, api: httpx.AsyncClient
) -> None:
    # A screen's copy of a change must not travel back up to the app, which would hand it
    # out again: an endless loop that kept the app busy and its writes slow.
    key = session.keys[2]
    response = await api.post(f"/api/feedback/{key}/triage", json={"team": "billing"})
    position = response.json()["position"]
    await session.wait(lambda: key not in session.table.items)
    await session.pilot.pause(0.5)
    copies = [
        m for m in session.seen if isinstance(m, LiveChange) and m.change.position == position
    ]
    assert len(copies) == 2


async def test_detail_shows_text_customer_and_history(
    session: Session, api: httpx.AsyncClient
) -> None:
    await session.press("enter")
    await session.prompt("DetailScreen")
    screen = session.app.screen
    assert isinstance(screen, DetailScreen)
    await session.wait(lambda: screen.loaded)
    # The loaded text is painted on the next refresh, not at once: wait for the screen.
    await session.wait(lambda: "cust-3" in session.app.export_screenshot())
    assert "Received" in session.app.export_screenshot()
    await session.press("escape")
    await session.back_in_inbox()
