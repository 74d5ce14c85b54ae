"""`loopline integration` and `loopline webhooks` against a real database, as a subprocess."""

from __future__ import annotations

import subprocess

import asyncpg

from server.webhooks.inbox import store_delivery
from server.webhooks.integrations import list_integrations
from tests.processes import LOOPLINE, loopline_env, run_loopline
from tests.webhook_senders import SECRET, encode


def loopline(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOOPLINE, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_integrations_and_deliveries_from_the_command_line(
    database_url: str, pool: asyncpg.Pool
) -> None:
    env = loopline_env(DATABASE_URL=database_url)
    # An operator adds a GitHub integration, the secret on standard input.
    added = loopline(
        "integration", "add", "--source", "github", "-r", "acme/billing",
        "--deployment-workflow", "deploy", "--secret-stdin",
        env=env, stdin=SECRET + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    async with pool.acquire() as conn:
        [integration] = await list_integrations(conn)
    assert integration.secret == SECRET
    # Listing shows it, never its secret.
    listed = run_loopline("integration", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "acme/billing" in listed.stdout
    assert SECRET not in listed.stdout + listed.stderr
    # A short secret is refused in one line.
    short = loopline(
        "integration", "add", "--source", "github", "-r", "acme/x", "--secret-stdin",
        env=env, stdin="short\n",
    )  # fmt: skip
    assert short.returncode == 1
    assert "secret" in short.stderr
    assert "Traceback" not in short.stderr
    # A stored delivery (no team owns the repository) is mapped by replay and listed why.
    async with pool.acquire() as conn:
        stored = await store_delivery(
            conn,
            source="github",
            delivery_id="d-1",
            event="push",
            repository="acme/billing",
            integration_id=integration.id,
            headers={},
            body=encode({"repository": {"full_name": "acme/billing"}, "commits": []}),
        )
    # Another is a deployment whose body is unusable: replay says it is still failing, and why.
    async with pool.acquire() as conn:
        broken = await store_delivery(
            conn,
            source="github",
            delivery_id="d-2",
            event="deployment_status",
            repository="acme/billing",
            integration_id=integration.id,
            headers={},
            body=encode({"deployment_status": "not an object"}),
        )
    replayed = run_loopline(
        "webhooks", "replay", "--id", str(stored.id), "--id", str(broken.id), env=env
    )
    assert replayed.returncode == 0, replayed.stderr
    lines = replayed.stdout.splitlines()
    assert lines[0] == f"requeued 2 deliveries ({stored.id}, {broken.id})"
    assert lines[1] == "now: pending 0, mapped 0, ignored 1, failed 1"
    assert f"{stored.id} github push ignored: push to ? carries no commits" in replayed.stdout
    [failing] = [line for line in lines if line.startswith(f"  {broken.id} ")]
    assert "deployment_status failed: " in failing
    ignored = run_loopline("webhooks", "list", "--state", "ignored", env=env)
    assert ignored.returncode == 0, ignored.stderr
    assert "push to ? carries no commits" in ignored.stdout
    # Removing the integration.
    removed = run_loopline("integration", "remove", str(integration.id), env=env)
    assert removed.returncode == 0, removed.stderr
    async with pool.acquire() as conn:
        assert await list_integrations(conn) == []
