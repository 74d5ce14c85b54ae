"""The response cache's store keeps whole answers by the read models' rules."""

from __future__ import annotations

import msgspec

from projections.cache import ReadModelCache
from server.answers import AnswerStore


def question(cache: ReadModelCache, query: str = "limit=50") -> str:
    """The key `server.answers.answer_key` makes: generation, route template, question."""
    return f"{cache.generation} /api/feedback GET /api/feedback?{query}"


def answer(body: bytes) -> bytes:
    """A response as Litestar's response cache encodes it: its ASGI messages."""
    start = {"type": "http.response.start", "status": 200, "headers": []}
    return msgspec.msgpack.encode([start, {"type": "http.response.body", "body": body}])


async def test_an_answer_is_kept_until_the_next_notice() -> None:
    cache = ReadModelCache()
    cache.hearing(True)
    store = AnswerStore(cache)
    await store.set(question(cache), answer(b"page"))
    assert await store.get(question(cache)) == answer(b"page")
    assert await store.get(question(cache, "limit=51")) is None
    cache.heard("feedback")
    assert await store.get(question(cache)) is None
    assert store.served == 1


async def test_an_answer_computed_while_a_notice_arrived_is_never_served() -> None:
    cache = ReadModelCache()
    cache.hearing(True)
    store = AnswerStore(cache)
    asked = question(cache)
    cache.heard("feedback")  # the read models moved on while the answer was computed
    await store.set(asked, answer(b"stale"))
    assert await store.get(asked) is None
    assert await store.get(question(cache)) is None


async def test_nothing_is_kept_while_notices_may_be_missed() -> None:
    cache = ReadModelCache()
    store = AnswerStore(cache)
    await store.set(question(cache), answer(b"page"))
    assert await store.get(question(cache)) is None
    cache.hearing(True)
    await store.set(question(cache), answer(b"page"))
    cache.hearing(False)  # the notices' connection is lost
    assert await store.get(question(cache)) is None
