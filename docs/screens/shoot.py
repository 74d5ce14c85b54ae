"""Take docs/screens/web.png: headless Chromium (Debian's `chromium`) opens `loopline web`'s
page, waits for the app's first bytes (the page then drops its intro), lets the screen
settle, and saves a screenshot through the DevTools protocol.

    uv run python docs/screens/shoot.py http://127.0.0.1:8001/?fontsize=14 docs/screens/web.png

(`chromium --headless --screenshot=…` alone shoots when the page has loaded, which is
before the terminal's websocket has delivered the app's first screen.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

PORT = 19333
SIZE = (1400, 900)
SETTLE = 8.0  # seconds for the first page of items and the live stream


def shoot(url: str, out: str) -> None:
    chromium = subprocess.Popen(  # noqa: S603
        [  # noqa: S607
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={SIZE[0]},{SIZE[1]}",
            f"--remote-debugging-port={PORT}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = next(t for t in _targets() if t["type"] == "page")
        png = asyncio.run(capture(page["webSocketDebuggerUrl"], url))
        Path(out).write_bytes(png)
    finally:
        chromium.terminate()
        chromium.wait()


async def capture(devtools: str, url: str) -> bytes:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(devtools, max_msg_size=0) as ws,
    ):
        calls = iter(range(1, 1_000_000))

        async def call(method: str, **params: Any) -> dict[str, Any]:
            ident = next(calls)
            await ws.send_json({"id": ident, "method": method, "params": params})
            while True:
                answer = json.loads((await ws.receive()).data)
                if answer.get("id") == ident:
                    return dict(answer.get("result", {}))

        await call("Page.navigate", url=url)
        started = "document.body.classList.contains('-first-byte')"
        for _ in range(300):
            found = await call("Runtime.evaluate", expression=started, returnByValue=True)
            if found.get("result", {}).get("value"):
                break
            await asyncio.sleep(0.2)
        else:
            raise SystemExit("the app never started in the page")
        await asyncio.sleep(SETTLE)
        shot = await call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


def _targets() -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        try:
            found: list[dict[str, Any]] = httpx.get(f"http://127.0.0.1:{PORT}/json").json()
            return found
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    shoot(sys.argv[1], sys.argv[2])
