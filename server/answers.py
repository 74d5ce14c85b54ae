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
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from litestar import Request
from litestar.config.response_cache import ResponseCacheConfig
from litestar.stores.base import Store

from projections.cache import ReadModelCache

STORE = "answers"
_KEY = "loopline.answer_key"
_NEVER = -1
"""The generation of a request that is never answered from the cache (it asks `after`)."""


def answer_key(request: Request[Any, Any, Any]) -> str:
    """`<generation>:<method> <path>?<raw query>`; the same string when Litestar asks again
    to store the answer (the generation is the one the question was asked in)."""
    scope = cast("dict[str, Any]", request.scope)
    key: str | None = scope.get(_KEY)
    if key is None:
        cache: ReadModelCache = request.app.state.metrics_cache
        query: bytes = scope["query_string"]
        generation = _NEVER if _asks_after(query) else cache.generation
        key = f"{generation}:{scope['method']} {scope['path']}?{query.decode('latin-1')}"
        scope[_KEY] = key
    return key


def _asks_after(query: bytes) -> bool:
    return b"after" in query and any(
        part.partition(b"=")[0] == b"after" for part in query.split(b"&")
    )


class AnswerStore(Store):
    """Litestar's `Store` for the response cache, keeping its entries in the read models'
    cache (one bound on their number, one rule for how long they last). Expiry times are
    ignored: an answer lasts until the read models move on."""

    def __init__(self, cache: ReadModelCache) -> None:
        self.cache = cache
        self.served = 0
        """Responses answered from here."""

    @staticmethod
    def _split(key: str) -> tuple[int, str]:
        generation, _, question = key.partition(":")
        return int(generation), question

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        generation, question = self._split(key)
        found: bytes | None = self.cache.kept(("answer", question), generation)
        if found is not None:
            self.served += 1
        return found

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        generation, question = self._split(key)
        body = value.encode() if isinstance(value, str) else value
        self.cache.keep(("answer", question), body, generation)

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
