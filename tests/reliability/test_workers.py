"""Webhook workers off the API's connections: a slow notification receiver holds no API
connection, transaction or lock; outbound calls go to the address that was checked, and
IPv6 forms of private addresses are refused; several worker processes share one database
(one notification follower at a time, each notification sent once)."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from infra.settings import Settings, load_settings
from server.webhooks.lifespan import WORKER_APPLICATION, WebhookWorkers
from server.webhooks.outbound import NotificationSender
from tests.conftest import ADMIN_TOKEN, running_api
from tests.processes import loopline_env, start_loopline
from tests.receivers import close_a_loop, receiving
from tests.reliability.harness import record

pytestmark = pytest.mark.reliability


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        {},
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_token=ADMIN_TOKEN,
        outbound_allow_private=True,
        outbound_timeout=30.0,
        poll_interval=0.1,
        pool_min_size=1,
        pool_max_size=3,
    )


async def until(condition: Any, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.05)


async def sessions(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT pid, application_name, state, xact_start"
            " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    return [dict(r) for r in rows]


async def test_a_slow_receiver_holds_no_api_connection_transaction_or_lock(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    with receiving(held=True) as receiver:
        created = await api.post("/api/notifications/targets", json={"url": receiver.url})
        assert created.status_code == 201, created.text
        await close_a_loop(api)
        # The receiver has the notification and does not answer.
        assert await asyncio.to_thread(receiver.waiting.wait, 20)
        # Meanwhile no session of the database holds a transaction across the wait (no
        # claim, no row lock kept while the receiver sits on the request). Transactions that
        # come and go (projections polling every 0.1 s) are fine: a held one is the same
        # transaction of the same session in two looks a second apart.
        first = await sessions(pool)
        await asyncio.sleep(1.0)
        seen = await sessions(pool)
        open_then = {(s["pid"], s["xact_start"]) for s in first if s["xact_start"] is not None}
        held = [s for s in seen if (s["pid"], s["xact_start"]) in open_then]
        assert not held, seen
        async with pool.acquire() as conn:
            locked = await conn.fetchval(
                "SELECT count(*) FROM"
                " (SELECT id FROM notification_deliveries FOR UPDATE SKIP LOCKED) AS free"
            )
        assert locked == 1, "the delivery's row stays locked while its receiver waits"
        # ...the workers are on their own connections, and the API (3 connections) answers
        # many requests at once.
        assert {s["application_name"] for s in seen} >= {"loopline", WORKER_APPLICATION}
        answers = await asyncio.gather(
            *(api.get("/api/notifications/deliveries") for _ in range(30))
        )
        assert {a.status_code for a in answers} == {200}
        [pending] = answers[-1].json()
        assert pending["state"] == "pending"
        assert pending["attempts"] == 0
        receiver.release.set()

        async def delivered() -> bool:
            found = (await api.get("/api/notifications/deliveries")).json()
            return bool(found and found[0]["state"] == "delivered")

        await until(delivered)
    record(
        "slow_receiver",
        sessions_while_waiting=len(seen),
        transactions_held_across_the_wait=len(held),
        api_requests_answered_meanwhile=len(answers),
    )


async def test_a_notification_goes_to_the_address_that_was_checked(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    asked: list[tuple[str, int]] = []

    async def resolver(host: str, port: int) -> list[str]:
        # A name that would resolve elsewhere the next time (DNS rebinding).
        asked.append((host, port))
        return ["127.0.0.1"] if len(asked) == 1 else ["127.0.0.2"]

    with receiving() as receiver:
        sender = NotificationSender(pool, settings, asyncio.Event(), resolver=resolver)
        url = f"http://hooks.receiver.invalid:{receiver.port}/hooks"
        async with httpx.AsyncClient() as client:
            answer = await sender.post(client, url, "s" * 32, "msg_1", b"{}")
    assert answer.ok, answer
    assert asked == [("hooks.receiver.invalid", receiver.port)], "resolved more than once"
    [headers] = receiver.headers
    assert headers["host"] == f"hooks.receiver.invalid:{receiver.port}"


IPV6_FORMS = {
    "IPv4-compatible loopback": "http://[::127.0.0.1]/hook",
    "IPv4-mapped loopback": "http://[::ffff:127.0.0.1]/hook",
    "IPv4-mapped private": "http://[::ffff:10.0.0.1]/hook",
    "NAT64 loopback": "http://[64:ff9b::7f00:1]/hook",
    "NAT64 private": "http://[64:ff9b::a00:1]/hook",
    "NAT64 metadata": "http://[64:ff9b::a9fe:a9fe]/hook",
    "local-use NAT64": "http://[64:ff9b:1::a00:1]/hook",
    "6to4 loopback": "http://[2002:7f00:1::]/hook",
    "6to4 private": "http://[2002:c0a8:101::1]/hook",
    "Teredo": "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
    "IPv6 loopback": "http://[::1]/hook",
    "unique local": "http://[fd00::1]/hook",
}


async def test_ipv6_forms_of_private_addresses_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    strict = load_settings(
        {}, database_url=database_url, data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN
    )
    with running_api(strict, database_url) as url:
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as api:
            for form, target in IPV6_FORMS.items():
                answer = await api.post("/api/notifications/targets", json={"url": target})
                assert answer.status_code == 400, (form, answer.text)
                assert answer.json()["field"] == "url"
            assert (await api.get("/api/notifications/targets")).json() == []
    record("ipv6_forms", refused=len(IPV6_FORMS))


async def test_worker_processes_share_one_database_without_racing(
    database_url: str, tmp_path: Path
) -> None:
    # The API runs no workers; two worker processes (own pools, own leases) share the work.
    settings = load_settings(
        {},
        database_url=database_url,
        data_dir=tmp_path / "data",
        admin_token=ADMIN_TOKEN,
        outbound_allow_private=True,
        poll_interval=0.1,
        run_webhook_workers=False,
    )
    first = await WebhookWorkers.open(settings, database_url)
    second = await WebhookWorkers.open(settings, database_url)
    for workers in (first, second):
        workers.follower.lease_retry = 0.2
        workers.start()
    try:
        with running_api(settings, database_url) as url, receiving() as receiver:
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
            ) as api:
                await api.post("/api/notifications/targets", json={"url": receiver.url})

                async def one_leased() -> bool:
                    return first.follower.leased != second.follower.leased

                await until(one_leased)
                keys = [await close_a_loop(api) for _ in range(5)]

                async def all_delivered() -> bool:
                    found = (await api.get("/api/notifications/deliveries")).json()
                    return len(found) == len(keys) and {d["state"] for d in found} == {"delivered"}

                await until(all_delivered)
                # The follower that held the lease stops; the other takes over.
                holder, other = (first, second) if first.follower.leased else (second, first)
                await holder.close()

                async def taken_over() -> bool:
                    return other.follower.leased

                await until(taken_over)
                keys += [await close_a_loop(api) for _ in range(3)]

                async def rest_delivered() -> bool:
                    found = (await api.get("/api/notifications/deliveries")).json()
                    return len(found) == len(keys) and {d["state"] for d in found} == {"delivered"}

                await until(rest_delivered)
        ids = [h["webhook-id"] for h in receiver.headers]
        assert len(ids) == len(set(ids)) == len(keys), ids
    finally:
        for workers in (first, second):
            await workers.close()
    record("worker_processes", workers=2, notifications=len(keys), sent_twice=0, lease_moved=1)


def test_loopline_work_runs_until_stopped(database_url: str, tmp_path: Path) -> None:
    env = loopline_env(DATABASE_URL=database_url, LOOPLINE_DATA_DIR=str(tmp_path / "data"))
    process = start_loopline("work", env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and not line.startswith("working"):
            line = process.stdout.readline()
        assert line.startswith("working"), process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
