"""Keys in words: `?` shows the screen's actions grouped, the command palette runs each
action once and jumps to any item or decision, and a config file remaps keys by binding id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from textual.command import Command, CommandInput, CommandList, CommandPalette
from textual.message import Message

from tests.conftest import ADMIN_TOKEN
from tests.tui.conftest import Session, messages, ready, screen_name, screen_text, seed
from tests.tui.test_backlog import decide
from tui.app import LooplineApp
from tui.config import load
from tui.keys import binding_ids
from tui.screens.backlog import BacklogScreen
from tui.screens.detail import DetailScreen


async def test_help_lists_this_screens_actions_in_words_grouped(session: Session) -> None:
    # `?` on the inbox: its actions in words, under headings, with their keys.
    await session.press("question_mark")
    await session.prompt("HelpScreen")
    text = await shown(session, "Leave Loopline")
    for words in (
        "Triage: team, tags, impact and outcome",
        "Mark as a duplicate of another item",
        "Close the loop: say how the customer was told",
        "Go to the backlog",
        "Leave Loopline",
    ):
        assert words in text
    lines = dialog_lines(text)
    headings = [line for line in lines if line in ("Act", "Move", "View", "Go to", "Anywhere")]
    assert headings == ["Act", "Move", "View", "Go to", "Anywhere"]
    assert ["t", "Triage: team, tags, impact and outcome"] in [
        line.split(None, 1) for line in lines
    ]
    # Not Textual's generic key list.
    assert "Page Left" not in text
    # `?` again closes it; on the backlog it lists the backlog's actions instead.
    await session.press("question_mark")
    await session.back_in_inbox()
    await session.press("b")
    await session.prompt("BacklogScreen")
    await session.press("question_mark")
    await session.prompt("HelpScreen")
    text = await shown(session, "Leave Loopline")
    assert "Move the decision up in its team's ranking" in text
    assert "Triage: team" not in text


def dialog_lines(text: str) -> list[str]:
    """The lines inside the dialog's border, trimmed."""
    return [line.split("█")[1].strip() for line in text.splitlines() if line.count("█") >= 2]


async def shown(session: Session, words: str) -> str:
    """The screen's text once it shows `words` (a screen paints after it is pushed)."""
    await session.wait(lambda: words in screen_text(session.app))
    return screen_text(session.app)


async def palette_hits(session: Session, query: str, wanted: str) -> list[str]:
    """Open the palette, type `query`, and wait for a hit showing `wanted` once the palette
    has gathered every provider's hits; the hits' texts, top to bottom."""
    await session.press("ctrl+p")
    await session.prompt("CommandPalette")
    palette = session.app.screen
    assert isinstance(palette, CommandPalette)
    if query:
        await session.press(*query)
    hits = palette.query_one(CommandList)

    typed = palette.query_one(CommandInput)

    def gathered() -> bool:
        # The search for the whole query ran to its end (a search just asked for is still
        # pending, not running, and the list may hold an earlier, shorter query's hits).
        busy = any(
            not w.is_finished and w.group == CommandPalette._GATHER_COMMANDS_GROUP
            for w in session.app.workers
        )
        return typed.value == query and not busy and any(wanted in text for text in texts_of(hits))

    await session.wait(gathered)
    return texts_of(hits)


def texts_of(hits: CommandList) -> list[str]:
    """Each hit's text (its title, without the help line under it)."""
    found = []
    for n in range(hits.option_count):
        option = hits.get_option_at_index(n)
        found.append(str(option.hit.text) if isinstance(option, Command) else "")
    return found


async def choose_hit(session: Session, wanted: str) -> None:
    palette = session.app.screen
    hits = palette.query_one(CommandList)
    hits.highlighted = next(n for n, text in enumerate(texts_of(hits)) if wanted in text)
    await session.press("enter")


async def test_palette_offers_each_action_once_and_runs_it(session: Session) -> None:
    # The palette before anything is typed: this screen's actions, Textual's theme and
    # screenshot, and no action twice (there were two "Keys" and two "Quit").
    texts = await palette_hits(session, "", "Leave Loopline")
    assert len(texts) == len(set(texts)), texts
    assert "Keys" not in texts
    assert "Quit" not in texts
    assert {"Leave Loopline", "Triage: team, tags, impact and outcome", "Theme"} <= set(texts)
    # Running one from the palette does what its key does.
    await choose_hit(session, "Triage: team, tags")
    await session.prompt("FormPrompt")


async def test_palette_jumps_to_an_item_by_key_or_by_words(session: Session) -> None:
    key = session.keys[1]
    # By key: the item's detail opens.
    await palette_hits(session, key, key)
    await choose_hit(session, key)
    await session.wait(lambda: isinstance(session.app.screen, DetailScreen))
    assert session.app.screen.key == key  # type: ignore[attr-defined]
    await session.press("escape")
    await session.back_in_inbox()
    # By words of its text.
    await palette_hits(session, "number 2", session.keys[2])
    await choose_hit(session, session.keys[2])
    await session.wait(lambda: isinstance(session.app.screen, DetailScreen))
    assert session.app.screen.key == session.keys[2]  # type: ignore[attr-defined]


async def backlog_shows(api: httpx.AsyncClient, *keys: str) -> None:
    """Wait for the backlog's read model to list `keys` (the palette reads it when it opens)."""
    while True:
        listed = {d["key"] for d in (await api.get("/api/decisions")).json()}
        if set(keys) <= listed:
            return
        await asyncio.sleep(0.05)


async def test_palette_jumps_to_a_decision(session: Session, api: httpx.AsyncClient) -> None:
    first = await decide(api, "billing", "Bulk export [csv]", accept=True)
    wanted = await decide(api, "onboarding", "Invite from the first screen", accept=True)
    await backlog_shows(api, first, wanted)
    # By words of its title: the backlog opens with the cursor on it.
    await palette_hits(session, "invite first", wanted)
    await choose_hit(session, wanted)
    await session.wait(lambda: isinstance(session.app.screen, BacklogScreen))
    backlog = session.app.screen
    assert isinstance(backlog, BacklogScreen)
    await session.wait(lambda: (d := backlog.current()) is not None and d.key == wanted)
    # By key, from the backlog itself (its title as typed, brackets and all).
    await palette_hits(session, first, first)
    hits = session.app.screen.query_one(CommandList)
    prompts = [str(hits.get_option_at_index(n).prompt) for n in range(hits.option_count)]
    assert any(f"{first}  Bulk export [csv]" in prompt for prompt in prompts), prompts
    await choose_hit(session, first)
    await session.wait(lambda: (d := backlog.current()) is not None and d.key == first)


async def test_palette_says_where_a_closed_decision_went(
    session: Session, api: httpx.AsyncClient
) -> None:
    # A declined decision whose title holds brackets (shown as typed, not read as markup).
    key = await decide(api, "billing", "Dark mode [beta]", accept=False)
    said = {"rationale": "Not now"}
    declined = await api.post(f"/api/decisions/{key}/decline", json=said)
    declined.raise_for_status()
    # The backlog (the open decisions the palette matches) has seen the decline.
    after = {"after": declined.json()["position"]}
    (await api.get("/api/decisions", params=after)).raise_for_status()
    await palette_hits(session, key, key)
    hits = session.app.screen.query_one(CommandList)
    prompts = [str(hits.get_option_at_index(n).prompt) for n in range(hits.option_count)]
    assert any("Dark mode [beta]" in prompt for prompt in prompts), prompts
    await choose_hit(session, key)
    await session.wait(
        lambda: any(f"{key} is declined" in m and "[beta]" in m for m in messages(session.app))
    )


@pytest.fixture
async def remapped(
    api_server: str, api: httpx.AsyncClient, tmp_path: Path
) -> AsyncIterator[Session]:
    """The app started from a config file that moves triage to `T` and picks a theme."""
    path = tmp_path / "tui.toml"
    path.write_text('theme = "nord"\n\n[keymap]\n"inbox.triage" = "T"\n', encoding="utf-8")
    config = load(path, binding_ids())
    keys = await seed(api, 4)
    app = LooplineApp(api_server, ADMIN_TOKEN, keymap=config.keymap, theme=config.theme)
    seen: list[Message] = []
    async with app.run_test(size=(120, 40), notifications=True, message_hook=seen.append) as pilot:
        s = Session(app, pilot, keys, seen)
        await s.wait(lambda: ready(s))
        yield s


async def test_a_remapped_key_works_and_the_old_one_is_free(remapped: Session) -> None:
    session = remapped
    assert session.app.theme == "nord"
    # `t` no longer triages: the help opens on `?` right after it (no dialog took the key).
    await session.press("t", "question_mark")
    await session.wait(lambda: screen_name(session.app) in ("HelpScreen", "FormPrompt"))
    assert screen_name(session.app) == "HelpScreen"
    # The help names the new key beside triage.
    lines = dialog_lines(await shown(session, "Leave Loopline"))
    assert ["T", "Triage: team, tags, impact and outcome"] in [
        line.split(None, 1) for line in lines
    ]
    await session.press("escape")
    await session.back_in_inbox()
    # `T` opens the triage dialog.
    await session.press("T")
    await session.prompt("FormPrompt")
