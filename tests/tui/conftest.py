"""TUI test helpers: seed the real API, wait for the app to show what we expect."""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
import unicodedata
import weakref
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from datetime import date

import httpx
import pytest
from rich.console import Console
from textual import events
from textual.app import App
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import DataTable, Select
from textual.worker import WorkerState

from infra.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tui.app import LooplineApp
from tui.screens.inbox import ANY
from tui.widgets.feedback_table import FeedbackTable

TODAY = date(2026, 3, 2)


def today() -> date:
    return TODAY


async def until(pilot: Pilot[None], condition: Callable[[], object], seconds: float = 60.0) -> None:
    """Let the app run until `condition()` holds (AssertionError after `seconds` of wall
    time). The deadline only bounds a failure: on a loaded machine (CI shares two cores)
    the server and the app can take many times longer than on an idle one."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            app = pilot.app
            said = messages(app)
            workers = [f"{w.group}/{w.name}:{w.state.name}" for w in app.workers]
            tables = {t.id or type(t).__name__: t.row_count for t in app.screen.query(DataTable)}
            raise AssertionError(
                f"timed out after {seconds}s waiting for the app; it said {said}; on"
                f" {type(app.screen).__name__} (tables {tables}), workers {workers}"
            )
        await pilot.pause(0.02)


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
                "customer_ref": f"cust-{n}",
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


async def tap(pilot: Pilot[None], *keys: str) -> None:
    """`pilot.press` without its wait for the process to go CPU-idle.

    The API server of these tests runs in this process, so the process is rarely idle and
    every `press` would wait its full second twice; waiting for the screen to have handled
    the key's messages is what the tests need.
    """
    app = pilot.app
    driver = app._driver
    assert driver is not None
    for key in keys:
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        original = REPLACED_KEYS.get(name, name)
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(original))
        except KeyError:
            char = name if len(name) == 1 else None
        event = events.Key(name, char)
        event.set_sender(app)
        driver.send_message(event)
        await settle(pilot)
        await pilot.pause(0.01)


async def settle(pilot: Pilot[None]) -> None:
    """Wait until the app and every widget of its screen have handled every message,
    including the ones handling queued: the app forwards a key to the focused widget, whose
    binding may queue a focus change. One round of `_wait_for_screen` covers only what was
    queued when it began, so on a loaded machine the next key reached the widget that had
    the focus before (a space typed into the search box instead of selecting a row)."""
    app = pilot.app
    for _ in range(100):
        await pilot._wait_for_screen()
        nodes = [app, *app.screen.walk_children(with_self=True)]
        if all(node._message_queue.empty() for node in nodes):
            return


def screen_text(app: App[None]) -> str:
    """What the screen shows, as plain text (an SVG screenshot escapes spaces)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, record=True
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def screen_name(app: App[None]) -> str:
    return type(app.screen).__name__


def messages(app: App[None]) -> list[str]:
    """Every notification the app raised so far, expired ones included (a toast leaves
    `app._notifications` after its few seconds, which a loaded machine can spend between
    two looks)."""
    return [n.message for n in HEARD.get(app, [])]


HEARD: weakref.WeakKeyDictionary[App[None], list[Notification]] = weakref.WeakKeyDictionary()


@pytest.fixture(autouse=True)
def remember_notifications(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep each app's notifications as they arrive (for `messages`)."""
    handle = App._on_notify

    def remembered(self: App[None], event: Notify) -> None:
        HEARD.setdefault(self, []).append(event.notification)
        handle(self, event)

    monkeypatch.setattr(App, "_on_notify", remembered)


@contextlib.contextmanager
def serve_on(settings: Settings, dsn: str, port: int) -> Iterator[str]:
    """Like `tests.conftest.running_api`, on a given port (so a restarted server is found
    again at the same address)."""
    import uvicorn

    from loopline.serving import listen, server_config
    from server.app import create_app

    sock = listen("127.0.0.1", port)
    server = uvicorn.Server(server_config(create_app(settings, dsn=dsn)))

    def serve() -> None:
        with contextlib.suppress(SystemExit):
            server.run(sockets=[sock])

    thread = threading.Thread(target=serve, name="api-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True  # the live stream holds a connection open
        thread.join(30)
        sock.close()


class Held(httpx.AsyncBaseTransport):
    """The real transport, except that once `hold` is set an answer from `path` waits for
    `release` before the app gets it (as a slow network would make it)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.inner = httpx.AsyncHTTPTransport()
        self.hold = asyncio.Event()
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.hold.is_set() and request.url.path == self.path:
            await response.aread()
            self.held.set()
            await self.release.wait()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Session:
    def __init__(
        self, app: LooplineApp, pilot: Pilot[None], keys: list[str], seen: list[Message]
    ) -> None:
        self.app = app
        self.pilot = pilot
        self.keys = keys
        self.seen = seen  # every message any part of the app handled, in order

    @property
    def table(self) -> FeedbackTable:
        return self.app.screen_stack[0].query_one(FeedbackTable)

    async def press(self, *keys: str) -> None:
        await tap(self.pilot, *keys)

    async def wait(self, condition: object) -> None:
        assert callable(condition)
        await until(self.pilot, condition)

    async def prompt(self, name: str) -> None:
        """Wait for screen `name`; a dialog also for a widget of it to have the focus (it is
        then composed and mounted: a test that looked for its fields sooner found none)."""

        def shown() -> bool:
            screen = self.app.screen
            dialog = isinstance(screen, ModalScreen)
            return screen_name(self.app) == name and (not dialog or screen.focused is not None)

        await self.wait(shown)

    async def show(self, status: str, exactly: Collection[str] | None = None) -> None:
        """Choose `status` in the inbox's filter bar, as picking it does, and wait for its
        page: the screen has taken the filter and no page is on its way (one landing later
        replaces the rows and clears a selection) and, if given, exactly these items are
        shown. Waiting for a row count alone was satisfied by the old filter's rows."""
        inbox = self.app.screen_stack[0]
        inbox.query_one("#status", Select).value = status
        wanted = None if status == ANY else status

        def shown() -> bool:
            return (
                inbox.filters["status"] == wanted  # type: ignore[attr-defined]
                and not inbox.reloading  # type: ignore[attr-defined]
                and not loading(self.app, "page")
                and (exactly is None or set(self.table.items) == set(exactly))
            )

        await self.wait(shown)

    async def back_in_inbox(self) -> None:
        await self.wait(lambda: screen_name(self.app) == "InboxScreen")


async def choose(session: Session, field: str, value: str) -> None:
    """Set a choice of the open dialog, as picking it from the drop-down would (once the
    drop-down has composed the label that shows the choice)."""
    select = session.app.screen.query_one(f"#field-{field}", Select)
    await session.wait(lambda: bool(select.query("SelectCurrent #label")))
    select.value = value


@pytest.fixture
async def session(api_server: str, api: httpx.AsyncClient) -> AsyncIterator[Session]:
    """The app on an inbox of 4 new items (newest first: keys[3] … keys[0])."""
    keys = await seed(api, 4)
    app = LooplineApp(api_server, ADMIN_TOKEN)
    seen: list[Message] = []
    async with app.run_test(size=(120, 40), notifications=True, message_hook=seen.append) as pilot:
        s = Session(app, pilot, keys, seen)
        await s.wait(lambda: ready(s))
        yield s


def ready(session: Session) -> bool:
    """The inbox can take a key: its items, teams and statuses loaded (no load still
    running that would replace them), the table focused with a row under the cursor, and
    the live stream connected."""
    app, table = session.app, session.table
    # The statuses' arrival resets the status filter: a test that sets it first loses it.
    vocabulary = any(type(m).__name__ == "VocabularyLoaded" for m in session.seen)
    return (
        vocabulary
        and table.row_count == 4
        and app.sub_title == "live"
        and not loading(app, *LOADS)
        and not app.screen_stack[0].reloading  # type: ignore[attr-defined]
        and table.has_focus
        and table.current() is not None
    )


LOADS = {"page", "teams", "vocabulary"}
"""The inbox's worker groups that fill it when it opens."""


def loading(app: App[None], *groups: str) -> bool:
    """A worker of one of `groups` is still to start or running (`is_running` alone missed
    one that was queued but not started, and a test went on before its page)."""
    return any(
        w.group in groups and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
        for w in app.workers
    )
