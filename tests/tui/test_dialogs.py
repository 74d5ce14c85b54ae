"""Each write is one dialog that checks its answers in place: driven through the real app
against the real API, the server's state checked through the API afterwards."""

from __future__ import annotations

import httpx
from textual.widgets import Input, Static

from tests.tui.conftest import Session, choose, item, messages


def error_shown(session: Session) -> str:
    return str(session.app.screen.query_one("#error", Static).render())


async def test_declining_with_an_empty_reason_keeps_the_dialog_open_and_says_why(
    session: Session, api: httpx.AsyncClient
) -> None:
    # Enter on an empty reason: the dialog stays, saying why, and nothing is written.
    await session.press("3")
    await session.prompt("FormPrompt")
    await session.press("enter")
    await session.wait(lambda: "Say why" in error_shown(session))
    assert session.app.screen.__class__.__name__ == "FormPrompt"
    assert (await item(api, session.keys[3]))["status"] == "new"
    # With a reason it goes through.
    await session.press(*"Out of scope", "enter")
    await session.back_in_inbox()
    await session.wait(lambda: session.keys[3] not in session.table.items)
    assert (await item(api, session.keys[3]))["reason"] == "Out of scope"


async def test_defer_understands_relative_days_and_refuses_nonsense_in_place(
    session: Session, api: httpx.AsyncClient
) -> None:
    await session.press("h")
    await session.prompt("FormPrompt")
    # Something that is not a day: the dialog says what it understands.
    await session.press("ctrl+u", *"someday", "enter")
    await session.wait(lambda: "next monday" in error_shown(session))
    # "next monday", counted from the app's today.
    await session.press("ctrl+u", *"next monday", "enter")
    await session.back_in_inbox()
    await session.wait(lambda: session.keys[3] not in session.table.items)
    found = await item(api, session.keys[3])
    assert found["status"] == "deferred"
    assert isinstance(found["deferred_until"], str)


async def test_triage_sets_team_tags_impact_and_outcome(
    session: Session, api: httpx.AsyncClient
) -> None:
    outcome = await api.post(
        "/api/outcomes",
        json={
            "statement": "Invoices are right the first time",
            "measure": "credit notes",
            "team": "billing",
        },
    )
    outcome.raise_for_status()
    outcome_id = outcome.json()["id"]
    # The outcomes' read model has it before the inbox loads again (`r` reads what is
    # there: on a loaded machine it read the list before the outcome reached it).
    after = {"after": outcome.json()["position"]}
    (await api.get("/api/outcomes", params=after)).raise_for_status()
    await session.press("r")  # pick up the new outcome
    await session.wait(lambda: bool(session.app.screen.outcomes))  # type: ignore[attr-defined]
    await session.press("t")
    await session.prompt("FormPrompt")
    await choose(session, "team", "onboarding")
    session.app.screen.query_one("#field-tags", Input).value = "invoices, export"
    await choose(session, "impact", "high")
    await choose(session, "outcome", outcome_id)
    await session.press("ctrl+s")
    await session.wait(lambda: session.keys[3] not in session.table.items)
    found = await item(api, session.keys[3])
    assert (found["status"], found["tags"], found["impact"]) == (
        "triaged",
        ["invoices", "export"],
        "high",
    )
    assert found["outcome_id"] == outcome_id


async def test_duplicate_toast_names_the_duplicate_and_its_original(
    session: Session, api: httpx.AsyncClient
) -> None:
    duplicate, original = session.keys[3], session.keys[0]
    await session.press("2")
    await session.prompt("FindPrompt")
    await session.press(*original, "enter")
    await session.wait(lambda: duplicate not in session.table.items)
    await session.wait(
        lambda: any(f"{duplicate} a duplicate of {original}" in m for m in messages(session.app))
    )
    assert not any(f"duplicate of {duplicate}" in m for m in messages(session.app))


async def proposed(session: Session, api: httpx.AsyncClient) -> dict[str, object]:
    """The decision the app said it proposed, as the API has it."""
    await session.wait(lambda: any("Proposed DEC-" in m for m in messages(session.app)))
    said = next(m for m in messages(session.app) if "Proposed DEC-" in m)
    key = said.split()[1]
    response = await api.get(f"/api/decisions/{key}")
    response.raise_for_status()
    decision: dict[str, object] = response.json()["decision"]
    return decision


async def test_plan_on_a_new_item_offers_triage_first_then_a_proposal(
    session: Session, api: httpx.AsyncClient
) -> None:
    key = session.keys[3]
    # The item is new: plan opens the triage dialog, not a list that then fails.
    await session.press("1")
    await session.prompt("FormPrompt")
    title = str(session.app.screen.query_one(".dialog-title", Static).render())
    assert "triage it first" in title
    await session.press("ctrl+s")
    # Then the decisions: propose a new one, one line of title with a rationale.
    await session.prompt("PickPrompt")
    await session.press("enter")
    await session.prompt("FormPrompt")
    title_input = session.app.screen.query_one("#field-title", Input)
    assert title_input.value == ""  # not the multi-line feedback text
    title_input.value = "Export invoices in bulk"
    session.app.screen.query_one("#field-rationale", Input).value = "Asked by four accounts"
    session.app.screen.query_one("#field-options", Input).value = "zip download; emailed link"
    await session.press("ctrl+s")
    decision = await proposed(session, api)
    # Proposed, not accepted, with what was entered; the item is triaged and linked.
    assert (decision["title"], decision["rationale"], decision["status"]) == (
        "Export invoices in bulk",
        "Asked by four accounts",
        "proposed",
    )
    assert decision["options"] == ["zip download", "emailed link"]
    found = await item(api, key)
    assert found["status"] == "triaged"
    assert found["id"] in decision["feedback_ids"]  # type: ignore[operator]


async def test_propose_a_decision_from_selected_items_leaves_it_proposed(
    session: Session, api: httpx.AsyncClient
) -> None:
    for key in session.keys[2:]:
        response = await api.post(f"/api/feedback/{key}/triage", json={"team": "billing"})
        response.raise_for_status()
    await session.press("slash")
    await session.show("triaged", exactly=session.keys[2:])
    await session.press("escape", "space", "j", "space")
    await session.wait(lambda: session.table.selected == set(session.keys[2:]))
    await session.press("p")
    await session.prompt("FormPrompt")
    # No title: the dialog says so and stays.
    await session.press("ctrl+s")
    await session.wait(lambda: "title" in error_shown(session))
    session.app.screen.query_one("#field-title", Input).value = "Bulk invoice export"
    session.app.screen.query_one("#field-rationale", Input).value = "Two asks this week"
    await session.press("ctrl+s")
    await session.back_in_inbox()
    decision = await proposed(session, api)
    assert (decision["title"], decision["status"]) == ("Bulk invoice export", "proposed")
    ids = {(await item(api, k))["id"] for k in session.keys[2:]}
    assert set(decision["feedback_ids"]) == ids  # type: ignore[call-overload]


async def test_close_the_loop_records_how_the_customer_was_told(
    session: Session, api: httpx.AsyncClient
) -> None:
    key = session.keys[3]
    (await api.post(f"/api/feedback/{key}/decline", json={"reason": "Won't do"})).raise_for_status()
    await session.press("slash")
    await session.show("declined", exactly=[key])
    await session.press("escape", "c")
    await session.prompt("FormPrompt")
    await session.press("enter")
    await session.wait(lambda: "how the customer was told" in error_shown(session))
    await session.press(*"email", "enter")
    await session.wait(lambda: key not in session.table.items)
    found = await item(api, key)
    assert (found["status"], found["loop_closed_how"]) == ("closed", "email")
