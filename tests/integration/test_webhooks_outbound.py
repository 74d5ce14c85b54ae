"""Outbound close-the-loop notifications to a real local receiver (the only stand-in is its URL)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from eventsourcing.persistence import Notification

from infra.settings import Settings, load_settings
from server.webhooks.lifespan import WebhookWorkers
from server.webhooks.verify import standard_signature_ok
from tests.conftest import ADMIN_TOKEN, running_api
from tests.receivers import close_a_loop, receiving


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Loopback receivers need the operator's opt-in; retries are fast for the test.
    return load_settings(
        {},
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_token=ADMIN_TOKEN,
        outbound_allow_private=True,
        webhook_retry_backoff=0.05,
        webhook_max_attempts=3,
        poll_interval=0.1,
    )


async def notifications(api: httpx.AsyncClient, state: str, within: float = 15.0) -> list[Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = (await api.get("/api/notifications/deliveries", params={"state": state})).json()
        if found:
            return list(found)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {state} notification in {within}s")


async def test_a_receiver_gets_a_verifiable_signed_notification(api: httpx.AsyncClient) -> None:
    with receiving(204) as receiver:
        created = await api.post("/api/notifications/targets", json={"url": receiver.url})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        assert secret.startswith("whsec_")
        # The secret is answered once, at creation, never again.
        [listed] = (await api.get("/api/notifications/targets")).json()
        assert listed.get("secret") is None
        # A customer is told: the loop closes; the receiver hears of it.
        key = await close_a_loop(api)
        [delivered] = await notifications(api, "delivered")
    assert delivered["event"] == "feedback.loop_closed"
    [(headers, body)] = receiver.received
    assert standard_signature_ok(
        secret,
        headers["webhook-id"],
        int(headers["webhook-timestamp"]),
        body,
        headers["webhook-signature"],
    )
    message = msgspec.json.decode(body)
    assert message["type"] == "feedback.loop_closed"
    assert message["data"]["feedback"] == key
    assert message["data"]["how"] == "email"


async def test_a_failing_receiver_is_retried_then_recorded_as_failed(
    api: httpx.AsyncClient,
) -> None:
    with receiving(503) as receiver:
        await api.post("/api/notifications/targets", json={"url": receiver.url})
        await close_a_loop(api)
        [failed] = await notifications(api, "failed")
    assert failed["attempts"] == 3
    assert failed["last_status"] == 503
    # Retries keep the message id (receivers deduplicate on it).
    assert len(receiver.received) == 3
    assert len({h["webhook-id"] for h, _ in receiver.received}) == 1


async def test_private_targets_are_refused_unless_allowed(
    database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        {}, database_url=database_url, data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN
    )
    with running_api(settings, database_url) as url:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as api:
            for target in (
                "http://127.0.0.1:8080/hook",
                "http://10.1.2.3/hook",
                "http://169.254.169.254/latest/meta-data",
                "http://[::1]/hook",
                "http://localhost/hook",
                "ftp://example.com/hook",
            ):
                answer = await api.post("/api/notifications/targets", json={"url": target})
                assert answer.status_code == 400, (target, answer.text)
                assert answer.json()["field"] == "url"
            assert (await api.get("/api/notifications/targets")).json() == []


async def test_the_follower_passes_over_history_no_target_is_owed(
    database_url: str, tmp_path: Path
) -> None:
    # Loops closed before any target existed are owed to nobody: a follower starting on
    # them reads only what came after the target (one transaction per old item saved).
    settings = load_settings(
        {},
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_token=ADMIN_TOKEN,
        outbound_allow_private=True,
        poll_interval=0.1,
        run_webhook_workers=False,
    )
    with running_api(settings, database_url) as url, receiving(204) as receiver:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        ) as api:
            for _ in range(3):
                await close_a_loop(api)
            await api.post("/api/notifications/targets", json={"url": receiver.url})
            workers = await WebhookWorkers.open(settings, database_url)
            read: list[int] = []
            handle = workers.follower.handle

            async def reading(notification: Notification) -> None:
                read.append(notification.id)
                await handle(notification)

            workers.follower.handle = reading  # type: ignore[method-assign]
            workers.start()
            try:
                key = await close_a_loop(api)
                [delivered] = await notifications(api, "delivered")
            finally:
                await workers.close()
    assert msgspec.json.decode(receiver.received[0][1])["data"]["feedback"] == key
    assert delivered["event"] == "feedback.loop_closed"
    assert len(read) == 1, read
