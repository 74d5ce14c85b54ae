"""Whole responses kept for reads whose answer depends only on the request's path and query
and on the read models: Litestar's response cache, over the process's `ReadModelCache`.

A repeated question is then answered before Litestar checks the query, resolves the
dependencies and calls the handler (a feedback page spent more in those than in the cached
bytes' lookup). Authentication and the request's metrics and id still run on every request:
they wrap the response cache. Such a handler says `cache=CACHE_FOREVER`; its answer must not
depend on who asks or on the time.

The rules are the read models' (`ReadModelCache`): a response is kept only while this process
hears their notices, under the generation in which it was asked for (so an answer computed
while a notice arrived is never served), and ends with the next notice. Only 2xx responses
are kept (Litestar's filter), so a question refused once (unknown parameter, bad value) is
checked again each time; the key is the raw query string, so it is asked exactly the same
way. Read-your-writes requests (`after`) are never answered from here nor kept.

A kept answer is served again before Litestar routes the request (`serve_kept_answers`): a
read served from the cache spent most of its time in Litestar's routing, error handling and
`Request` for an answer already made. Only what a kept answer still needs runs: the host
header check (Litestar's), a live token this process already trusts (`server.auth`; any
other token goes the whole way, and gets its 401 there), the request's metrics under the
route's template, and its id (the outermost wrapper). That is the whole rule for who may
read a kept answer, so a cached route may have no guard (`check_cached_routes`, at start).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import msgspec
from litestar import Litestar, Request
from litestar._asgi.utils import is_valid_host
from litestar.config.response_cache import ResponseCacheConfig
from litestar.exceptions import ImproperlyConfiguredException
from litestar.plugins.prometheus import PrometheusConfig
from litestar.routes import HTTPRoute
from litestar.stores.base import Store
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from projections.cache import ReadModelCache
from server.auth import TokenCache, bearer_token
from server.request_metrics import RequestMetrics

STORE = "answers"
_KEY = "loopline.answer_key"
_MESSAGES = "loopline.kept_answer"
_NEVER = -1
"""The generation of a request that is never answered from the cache (it asks `after`)."""


def _question(scope: Scope) -> str:
    raw = cast("dict[str, Any]", scope)
    query: bytes = raw["query_string"]
    return f"{raw['method']} {raw['path']}?{query.decode('latin-1')}"


def answer_key(request: Request[Any, Any, Any]) -> str:
    """`<generation> <route template> <method> <path>?<raw query>`; the same string when
    Litestar asks again to store the answer (the generation is the one the question was
    asked in). A template has no spaces; the path may."""
    scope = cast("dict[str, Any]", request.scope)
    key: str | None = scope.get(_KEY)
    if key is None:
        cache: ReadModelCache = request.app.state.metrics_cache
        generation = _NEVER if _asks_after(scope["query_string"]) else cache.generation
        key = f"{generation} {scope['path_template']} {_question(request.scope)}"
        scope[_KEY] = key
    return key


def _asks_after(query: bytes) -> bool:
    return b"after" in query and any(
        part.partition(b"=")[0] == b"after" for part in query.split(b"&")
    )


class _Kept(msgspec.Struct, frozen=True):
    template: str
    """The route's path template (the metrics' label)."""
    body: bytes
    """The response as Litestar's cache encodes it."""
    messages: tuple[Message, ...]
    """The same, as the ASGI messages it sends."""


class AnswerStore(Store):
    """Litestar's `Store` for the response cache, keeping its entries in the read models'
    cache (one bound on their number, one rule for how long they last). Expiry times are
    ignored: an answer lasts until the read models move on."""

    def __init__(self, cache: ReadModelCache) -> None:
        self.cache = cache
        self.served = 0
        """Responses answered from here."""
        self.served_before_routing = 0
        """Of those, the ones `serve_kept_answers` sent."""

    @staticmethod
    def _split(key: str) -> tuple[int, str, str]:
        generation, template, question = key.split(" ", 2)
        return int(generation), template, question

    def _kept(self, question: str, generation: int) -> _Kept | None:
        found: _Kept | None = self.cache.kept(("answer", question), generation)
        if found is not None:
            self.served += 1
        return found

    def ready(self, scope: Scope) -> _Kept | None:
        """The kept answer to this request as it arrived (before routing), if any."""
        found = self._kept(_question(scope), self.cache.generation)
        if found is not None:
            self.served_before_routing += 1
        return found

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        generation, _, question = self._split(key)
        found = self._kept(question, generation)
        return None if found is None else found.body

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        generation, template, question = self._split(key)
        body = value.encode() if isinstance(value, str) else value
        messages = tuple(msgspec.msgpack.decode(body))  # Litestar's encoding of the response
        self.cache.keep(("answer", question), _Kept(template, body, messages), generation)

    async def delete(self, key: str) -> None:
        self.cache.drop_all()

    async def delete_all(self) -> None:
        self.cache.drop_all()

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        return None


def answer_cache_config() -> ResponseCacheConfig:
    return ResponseCacheConfig(key_builder=answer_key, store=STORE, default_expiration=None)


def check_cached_routes(app: Litestar) -> None:
    """A kept answer is served to any live token (`serve_kept_answers`): a route whose whole
    responses are kept may not also ask a guard."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, _ in route.route_handler_map.values():
            if handler.cache and handler.resolve_guards():
                raise ImproperlyConfiguredException(
                    f"{route.path}: a route whose answers are kept may not have guards "
                    "(a kept answer is served to any live token; server/answers.py)"
                )


def serve_kept_answers(
    app: ASGIApp, store: AnswerStore, tokens: TokenCache, metrics: PrometheusConfig
) -> ASGIApp:
    """Wraps Litestar's ASGI handler: a GET whose answer is kept, asked with a live token this
    process trusts and a valid host, is answered here; any other request goes to `app`."""

    async def send_kept(scope: Scope, receive: Receive, send: Send) -> None:
        for message in cast("dict[str, Any]", scope)[_MESSAGES]:
            await send(message)

    measured = RequestMetrics(send_kept, metrics)

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        raw = cast("dict[str, Any]", scope)
        if raw["type"] == "http" and raw["method"] == "GET":
            token = bearer_token(scope)
            if token is not None and tokens.kept(token) is not None and _host_valid(scope):
                kept = store.ready(scope)
                if kept is not None:
                    raw["path_template"] = kept.template
                    raw[_MESSAGES] = kept.messages
                    await measured(scope, receive, send)
                    return
        await app(scope, receive, send)

    return asgi


def _host_valid(scope: Scope) -> bool:
    """Litestar's check, which its router makes before routing (a 400 otherwise)."""
    for name, value in scope["headers"]:
        if name == b"host":
            return is_valid_host(value)
    return True
