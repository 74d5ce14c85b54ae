"""Rate limits for what strangers can hammer: webhook receivers (per client address) and
failed authentication (per client address and per presented token).

Counted in this process's memory in one-minute windows: each API process limits on its
own, so N processes behind a balancer allow up to N times the configured rate. Requests
past a limit answer 429 with `Retry-After` (seconds until the window ends), before the
request costs a database round trip.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Hashable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler

from infra.settings import Settings

WINDOW = 60.0
"""Seconds of one counting window."""


class RateLimiter:
    """At most `per_window` hits per key and window; 0 means no limit."""

    def __init__(
        self,
        per_window: int,
        *,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.per_window = per_window
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._counts: dict[Hashable, tuple[float, int]] = {}

    def _current(self, key: Hashable) -> tuple[float, int]:
        now = self.clock()
        start, count = self._counts.get(key, (now, 0))
        if now - start >= self.window:
            return now, 0
        return start, count

    def _wait(self, start: float) -> int:
        return max(1, math.ceil(start + self.window - self.clock()))

    def blocked(self, key: Hashable) -> int | None:
        """Seconds to wait when `key` used up its window, else None (counts nothing)."""
        if self.per_window <= 0:
            return None
        start, count = self._current(key)
        return self._wait(start) if count >= self.per_window else None

    def hit(self, key: Hashable) -> int | None:
        """Count one for `key`; seconds to wait when that went past the limit, else None."""
        if self.per_window <= 0:
            return None
        start, count = self._current(key)
        if len(self._counts) >= self.max_keys and key not in self._counts:
            self._forget_old()
        self._counts[key] = (start, count + 1)
        return self._wait(start) if count + 1 > self.per_window else None

    def _forget_old(self) -> None:
        now = self.clock()
        self._counts = {k: v for k, v in self._counts.items() if now - v[0] < self.window}
        if len(self._counts) >= self.max_keys:
            # Flooded by distinct keys within one window: start counting afresh.
            self._counts.clear()


class RateLimits:
    """The app's limiters, built from settings."""

    def __init__(self, settings: Settings) -> None:
        self.webhooks = RateLimiter(settings.rate_limit_webhooks)
        self.failed_auth = RateLimiter(settings.rate_limit_failed_auth)


def too_many(wait: int, what: str) -> TooManyRequestsException:
    return TooManyRequestsException(
        detail=f"too many {what}; try again in {wait} s", headers={"Retry-After": str(wait)}
    )


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The peer's address (uvicorn puts a trusted proxy's X-Forwarded-For there)."""
    client = connection.client
    return client.host if client is not None else "unknown"


def token_key(token: str) -> str:
    # Keys stay in memory: keep a digest, never the presented token itself.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def limits_of(connection: ASGIConnection[Any, Any, Any, Any]) -> RateLimits:
    limits: RateLimits = connection.app.state.rate_limits
    return limits


LIMITED_BY = "loopline.rate_limit"
"""The key in a route handler's `opt` naming the limit its requests count against
(`WEBHOOKS`); `check_rate_limit` enforces it."""
WEBHOOKS = "webhooks"


def rate_limited(handler: BaseRouteHandler) -> str | None:
    """The limit `handler`'s requests count against, if any."""
    limit: str | None = handler.opt.get(LIMITED_BY)
    return limit


def check_rate_limit(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """The webhook receivers' LOOPLINE_RATE_LIMIT_WEBHOOKS per client address: the app's
    first check of a request, after authentication (`server.app.check_request`).

    Not a guard: Litestar calls each guard with a copy of the route handler, which cost a
    delivery a twentieth of its CPU."""
    if rate_limited(connection.route_handler) != WEBHOOKS:
        return
    wait = limits_of(connection).webhooks.hit(client_address(connection))
    if wait is not None:
        raise too_many(wait, "webhook deliveries from this address")


def check_failed_auth(connection: ASGIConnection[Any, Any, Any, Any], token: str) -> None:
    """429 when the address or the token used up its failed authentications (before the
    token is looked up in the database)."""
    limiter = limits_of(connection).failed_auth
    wait = limiter.blocked(("address", client_address(connection))) or limiter.blocked(
        ("token", token_key(token))
    )
    if wait is not None:
        raise too_many(wait, "requests with unknown tokens")


def count_failed_auth(connection: ASGIConnection[Any, Any, Any, Any], token: str) -> None:
    limiter = limits_of(connection).failed_auth
    limiter.hit(("address", client_address(connection)))
    limiter.hit(("token", token_key(token)))
