"""A real local HTTP receiver for outbound notifications (the only stand-in is its URL), and
the shortest way to make Loopline send one: close a loop."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class Receiver:
    """Records each request's headers (lower-case names) and body, and answers `status`;
    a held receiver answers only once `release` is set (`waiting` tells it has a request)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.release = threading.Event()
        self.waiting = threading.Event()
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.waiting.set()
                receiver.release.wait(30)
                self.send_response(receiver.status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/loopline"

    @property
    def headers(self) -> list[dict[str, str]]:
        """The headers of each request received, in order."""
        return [headers for headers, _ in self.received]


@contextlib.contextmanager
def receiving(status: int = 204, *, held: bool = False) -> Iterator[Receiver]:
    """A receiver serving in a thread for the block; `held` keeps every answer back until
    `release` is set (set on leaving, so no request outlives the block)."""
    receiver = Receiver(status)
    if not held:
        receiver.release.set()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.server.shutdown()
        receiver.server.server_close()


async def close_a_loop(api: httpx.AsyncClient) -> str:
    """Receives an item, declines it and closes its loop (what notifies a receiver); its key."""
    item = (await api.post("/api/feedback", json={"text": "Dark mode", "channel": "web"})).json()
    declined = await api.post(f"/api/feedback/{item['key']}/decline", json={"reason": "not now"})
    assert declined.is_success, declined.text
    closed = await api.post(f"/api/feedback/{item['key']}/close-loop", json={"how": "email"})
    assert closed.is_success, closed.text
    key: str = item["key"]
    return key
