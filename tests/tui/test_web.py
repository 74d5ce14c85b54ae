"""`loopline web`: the terminal UI in a browser. The real command serves it; the test reads
the first screen through the websocket the browser's page uses, and types a key into it."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.processes import LOOPLINE, free_port, loopline_env, one_error_line, run_loopline
from tests.tui.conftest import seed

# Escape sequences (CSI, OSC and two-byte ones) between the text a terminal would show.
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]")


@pytest.fixture
def web(api_server: str, tmp_path: Path) -> Iterator[str]:
    """`loopline web` on a free port of 127.0.0.1, for the test's API; its base URL."""
    port = free_port()
    env = loopline_env(
        LOOPLINE_ADMIN_TOKEN=ADMIN_TOKEN,
        LOOPLINE_DATA_DIR=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),  # no user config file
    )
    log = tmp_path / "web.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [LOOPLINE, "web", "--url", api_server, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"loopline web exited\n{log.read_text()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"loopline web did not answer\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_web_serves_the_ui_over_the_browsers_websocket(
    web: str, api: httpx.AsyncClient
) -> None:
    keys = await seed(api, 3)
    # The page a browser loads names the websocket it then opens.
    async with httpx.AsyncClient(timeout=10) as browser:
        page = (await browser.get(web)).text
    socket = web.replace("http://", "ws://") + "/ws"
    assert socket in page
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(f"{socket}?width=120&height=40") as ws,
    ):
        shown = ""

        async def read_until(*wanted: str) -> None:
            nonlocal shown
            while not all(w in shown for w in wanted):
                message = await ws.receive(timeout=120)
                assert message.type == aiohttp.WSMsgType.BINARY, message
                shown += ESCAPES.sub("", message.data.decode("utf-8", "replace"))

        # The inbox, live, with every item.
        await asyncio.wait_for(read_until("live", *keys), 180)
        # A key typed in the browser reaches the app: `?` shows the inbox's keys.
        await ws.send_json(["stdin", "?"])
        await asyncio.wait_for(read_until("Triage: team, tags, impact and outcome"), 120)


def test_web_listens_on_this_machine_only_by_default() -> None:
    result = run_loopline("web", "--help", env=loopline_env())
    assert "127.0.0.1" in result.stdout


@pytest.mark.parametrize("command", ["tui", "web"])
def test_a_bad_config_file_is_one_line(command: str, tmp_path: Path) -> None:
    config = tmp_path / "tui.toml"
    config.write_text('[keymap]\n"inbox.triag" = "T"\n', encoding="utf-8")
    result = run_loopline(command, "--config", str(config), env=loopline_env())
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert f"{config}: keymap names no binding 'inbox.triag'" in line
