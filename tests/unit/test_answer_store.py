"""The response cache's store keeps whole answers by the read models' rules."""

from __future__ import annotations

from projections.cache import ReadModelCache
from server.answers import AnswerStore


def question(cache: ReadModelCache, query: str = "limit=50") -> str:
    return f"{cache.generation}:GET /api/feedback?{query}"


async def test_an_answer_is_kept_until_the_next_notice() -> None:
    cache = ReadModelCache()
    cache.hearing(True)
    store = AnswerStore(cache)
    await store.set(question(cache), b"page")
    assert await store.get(question(cache)) == b"page"
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
    await store.set(asked, b"stale")
    assert await store.get(asked) is None
    assert await store.get(question(cache)) is None


async def test_nothing_is_kept_while_notices_may_be_missed() -> None:
    cache = ReadModelCache()
    store = AnswerStore(cache)
    await store.set(question(cache), b"page")
    assert await store.get(question(cache)) is None
    cache.hearing(True)
    await store.set(question(cache), b"page")
    cache.hearing(False)  # the notices' connection is lost
    assert await store.get(question(cache)) is None
