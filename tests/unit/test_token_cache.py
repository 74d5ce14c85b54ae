"""The process's cache of live tokens: trusted for a few seconds, forgotten on revocation."""

from __future__ import annotations

from uuid import uuid4

from infra.tokens import Principal
from server.auth import TokenCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_live_token_is_looked_up_once_per_period_and_revocation_forgets_it() -> None:
    clock = Clock()
    cache = TokenCache(seconds=5.0, clock=clock)
    cache.listening = True
    alice = Principal(token_id=uuid4(), name="alice", role="admin", team_ids=frozenset())
    live = {"ll_alice": alice}
    lookups: list[str] = []

    async def lookup(token: str) -> Principal | None:
        lookups.append(token)
        return live.get(token)

    assert await cache.principal("ll_alice", lookup) == alice
    clock.now += 4.9
    assert await cache.principal("ll_alice", lookup) == alice
    assert lookups == ["ll_alice"]
    # After the period the database is asked again (a revocation elsewhere shows here).
    del live["ll_alice"]
    clock.now += 0.2
    assert await cache.principal("ll_alice", lookup) is None
    # Unknown tokens are never kept: each try is a lookup.
    assert await cache.principal("ll_nobody", lookup) is None
    assert await cache.principal("ll_nobody", lookup) is None
    assert lookups == ["ll_alice", "ll_alice", "ll_nobody", "ll_nobody"]
    # A revocation notice: forgotten at once.
    live["ll_alice"] = alice
    assert await cache.principal("ll_alice", lookup) == alice
    cache.heard(str(alice.token_id))
    del live["ll_alice"]
    assert await cache.principal("ll_alice", lookup) is None


async def test_the_cache_stays_bounded() -> None:
    clock = Clock()
    cache = TokenCache(seconds=5.0, maxsize=3, clock=clock)
    cache.listening = True

    async def lookup(token: str) -> Principal | None:
        return Principal(token_id=uuid4(), name=token, role="member", team_ids=frozenset())

    for n in range(10):
        await cache.principal(f"ll_{n}", lookup)
    assert len(cache._entries) <= 3


async def test_nothing_is_kept_while_revocations_cannot_be_heard() -> None:
    cache = TokenCache(seconds=5.0, clock=Clock())
    bob = Principal(token_id=uuid4(), name="bob", role="admin", team_ids=frozenset())
    lookups: list[str] = []

    async def lookup(token: str) -> Principal | None:
        lookups.append(token)
        return bob

    await cache.principal("ll_bob", lookup)
    await cache.principal("ll_bob", lookup)
    assert len(lookups) == 2
    cache.listening = True
    await cache.principal("ll_bob", lookup)
    cache.hearing(False)
    await cache.principal("ll_bob", lookup)
    assert len(lookups) == 4


async def test_a_lookup_that_a_revocation_overtakes_is_not_kept() -> None:
    cache = TokenCache(seconds=5.0, clock=Clock())
    cache.hearing(True)
    carol = Principal(token_id=uuid4(), name="carol", role="admin", team_ids=frozenset())
    lookups: list[str] = []

    async def lookup(token: str) -> Principal | None:
        # The database answered before the revocation committed; its notice arrives now.
        lookups.append(token)
        if len(lookups) == 1:
            cache.heard(str(carol.token_id))
        return carol

    assert await cache.principal("ll_carol", lookup) == carol
    # The stale answer was not kept: the next request asks the database again.
    await cache.principal("ll_carol", lookup)
    assert lookups == ["ll_carol", "ll_carol"]
