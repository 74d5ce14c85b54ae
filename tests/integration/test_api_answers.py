"""Whole responses of cached reads (server/answers.py): served again without the handler,
never past the read models they came from, and never without a live token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar, get
from litestar.exceptions import ImproperlyConfiguredException
from prometheus_client.parser import text_string_to_metric_families

from infra.settings import Settings
from server.answers import STORE, AnswerStore, check_cached_routes
from server.app import create_app
from server.auth import ADMIN
from tests.conftest import ADMIN_TOKEN, running_api


@pytest.fixture
async def app(settings: Settings, database_url: str) -> AsyncIterator[Litestar]:
    served = create_app(settings, dsn=database_url)
    with running_api(settings, database_url, app=served) as url:
        served.state.url = url
        cache = served.state.metrics_cache
        for _ in range(200):  # the notices' connection is up: answers may be kept
            if cache.listening:
                break
            await asyncio.sleep(0.05)
        assert cache.listening
        yield served


def client(app: Litestar, token: str = ADMIN_TOKEN) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=app.state.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


async def test_a_page_asked_again_is_served_whole_until_the_read_models_move_on(
    app: Litestar,
) -> None:
    store: AnswerStore = app.stores.get(STORE)  # type: ignore[assignment]
    async with client(app) as api:
        first = (await api.post("/api/feedback", json={"text": "a", "channel": "web"})).json()
        # Read-your-writes: answered by the handler, and not kept.
        fresh = await api.get("/api/feedback", params={"after": first["position"]})
        assert [i["key"] for i in fresh.json()["items"]] == [first["key"]]
        await api.get("/api/feedback", params={"after": first["position"]})
        assert store.served == 0
        # Asked twice the same way: the second answer is the kept response.
        once = await api.get("/api/feedback?limit=10")
        again = await api.get("/api/feedback?limit=10")
        assert store.served == 1
        assert again.content == once.content
        assert again.headers["content-type"] == "application/json"
        # Its own request id, once: not also the id of the request whose answer was kept.
        assert len(once.headers.get_list("x-request-id")) == 1
        assert again.headers.get_list("x-request-id") != once.headers.get_list("x-request-id")
        assert len(again.headers.get_list("x-request-id")) == 1
        # A question refused is refused every time (never kept).
        for _ in range(2):
            refused = await api.get("/api/feedback?limit=10&limt=5")
            assert refused.status_code == 400
            assert refused.headers["content-type"].startswith("application/problem+json")
        assert store.served == 1
        # A new item reaches the read model: its notice ends the kept page.
        second = (await api.post("/api/feedback", json={"text": "b", "channel": "web"})).json()
        for _ in range(200):
            page = (await api.get("/api/feedback?limit=10")).json()
            if page["total"] == 2:
                break
            await asyncio.sleep(0.05)
        assert [i["key"] for i in page["items"]] == [second["key"], first["key"]]


async def test_a_revoked_token_gets_no_kept_page(app: Litestar) -> None:
    store: AnswerStore = app.stores.get(STORE)  # type: ignore[assignment]
    async with client(app) as admin:
        created = await admin.post("/api/tokens", json={"name": "reader", "role": "product"})
        assert created.status_code == 201, created.text
        token = created.json()
        async with client(app, token["token"]) as reader:
            assert (await reader.get("/api/feedback")).status_code == 200
            assert (await reader.get("/api/feedback")).status_code == 200
            assert store.served == 1
            assert (await admin.delete(f"/api/tokens/{token['id']}")).status_code == 204
            refused = await reader.get("/api/feedback")
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
        async with client(app, "ll_never-issued") as stranger:
            assert (await stranger.get("/api/feedback")).status_code == 401
        # The page itself is still kept for live tokens.
        assert (await admin.get("/api/feedback")).status_code == 200
        assert store.served == 2


def _served(metrics: str, status: str) -> float:
    """`loopline_requests_total` of GET /api/feedback (its route template) with `status`."""
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "loopline_requests_total"
                and labels.get("path") == "/api/feedback"
                and labels.get("method") == "GET"
                and labels.get("status_code") == status
            ):
                return sample.value
    return 0.0


async def test_a_kept_answer_is_sent_before_routing_counted_and_checked_like_any(
    app: Litestar,
) -> None:
    store: AnswerStore = app.stores.get(STORE)  # type: ignore[assignment]
    async with client(app) as api:
        # Nothing is written meanwhile: no notice ends the kept page.
        once = await api.get("/api/feedback?limit=5")
        assert once.status_code == 200
        before = (await api.get("/metrics")).text
        again = await api.get("/api/feedback?limit=5")
        assert (again.status_code, again.content) == (200, once.content)
        assert store.served_before_routing == 1
        assert len(again.headers.get_list("x-request-id")) == 1
        after = (await api.get("/metrics")).text
        # Counted under its route's template, like an answer Litestar sent.
        assert _served(after, "200") - _served(before, "200") == 1
        # A host Litestar refuses is refused, kept answer or not.
        bad_host = await api.get("/api/feedback?limit=5", headers={"host": "bad\\host"})
        assert bad_host.status_code == 400
        # Another spelling of the path or query is another question: the whole way.
        assert (await api.get("/api/feedback?limit=5&")).status_code == 200
        assert store.served_before_routing == 1
    # No token, or one this process does not know: the whole way, and its 401.
    async with httpx.AsyncClient(base_url=app.state.url, timeout=30) as anonymous:
        assert (await anonymous.get("/api/feedback?limit=5")).status_code == 401
    async with client(app, "ll_never-issued") as stranger:
        assert (await stranger.get("/api/feedback?limit=5")).status_code == 401
    assert store.served_before_routing == 1


def test_a_route_whose_answers_are_kept_may_not_have_guards() -> None:
    """A kept answer is served to any live token: a guard on such a route would be skipped."""

    @get("/guarded", cache=True, guards=[ADMIN], sync_to_thread=False)
    def guarded() -> str:
        return "secret"

    @get("/open", cache=True, sync_to_thread=False)
    def open_to_all() -> str:
        return "open"

    check_cached_routes(Litestar(route_handlers=[open_to_all]))
    with pytest.raises(ImproperlyConfiguredException, match="/guarded"):
        check_cached_routes(Litestar(route_handlers=[guarded, open_to_all]))
