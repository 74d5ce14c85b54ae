"""How the API is served: the one uvicorn configuration of `loopline serve` and the tests."""

from __future__ import annotations

import httpx
from litestar import Litestar

from loopline.serving import server_config
from tui.client import KEEPALIVE


def test_the_server_keeps_idle_connections_longer_than_its_clients_do() -> None:
    """A client reusing a connection the server closes at that moment gets "Server
    disconnected without sending a response" (uvicorn's default 5 s equals httpx's)."""
    config = server_config(Litestar())
    httpx_default = httpx.Limits().keepalive_expiry  # what a client without limits keeps
    assert httpx_default is not None
    assert config.timeout_keep_alive > max(KEEPALIVE, httpx_default)
    assert config.server_header is False
