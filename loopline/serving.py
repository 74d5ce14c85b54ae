"""Listening socket and uvicorn run loop for the `up` and `serve` commands."""

from __future__ import annotations

import signal
import socket

import uvicorn
from litestar import Litestar


class PortUnavailable(RuntimeError):
    """Raised when the API cannot listen on the requested host and port."""


class ServerFailed(RuntimeError):
    """Raised when uvicorn exits without having served (its lifespan startup failed)."""


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket, bound before anything slow starts so a taken port fails fast."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise PortUnavailable(f"cannot resolve host {host!r}: {error.strerror}") from None
    try:
        return socket.create_server(address, family=family)
    except OSError as error:
        reason = error.strerror or str(error)
        raise PortUnavailable(f"cannot listen on {url(host, port)}: {reason}") from None


KEEP_ALIVE = 65
"""Seconds an idle client connection stays open (longer than clients keep one)."""


def url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def server_config(app: Litestar, *, log_level: str | None = None) -> uvicorn.Config:
    """How the API is served (by `run`, and by the tests' servers, so that they meet what
    users do)."""
    return uvicorn.Config(
        app,
        # uvicorn's records go through the process's handler (infra.logs), or pytest's.
        log_config=None,
        log_level=log_level,
        lifespan="on",
        server_header=False,
        # Ctrl-C stops in bounded time even if a client keeps a connection (a stream) open.
        timeout_graceful_shutdown=10,
        # Clients keep idle connections for less (the terminal UI: 30 s; httpx's default:
        # 5 s), so none reuses one the server is closing at that moment (uvicorn's own 5 s
        # equalled httpx's default).
        timeout_keep_alive=KEEP_ALIVE,
    )


def run(app: Litestar, sock: socket.socket, *, log_level: str) -> None:
    """Serve until SIGINT or SIGTERM; both raise KeyboardInterrupt after a graceful shutdown.

    uvicorn handles the signals while serving and re-raises them afterwards with
    our handlers restored; mapping SIGTERM to KeyboardInterrupt lets the caller
    exit normally, so atexit hooks (the embedded PostgreSQL's stop) run.
    """
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    server = uvicorn.Server(server_config(app, log_level=log_level))
    try:
        server.run(sockets=[sock])
    except SystemExit:
        # uvicorn exits this way when the app's lifespan startup fails.
        raise ServerFailed("the API did not start (see the log above)") from None
