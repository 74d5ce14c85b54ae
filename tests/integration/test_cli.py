"""The `loopline` console script, run as a real subprocess against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
from importlib.metadata import version

import asyncpg
import pytest

from migrations.runner import shipped_migrations
from tests.processes import LOOPLINE, loopline_env, one_error_line, run_loopline


@pytest.mark.parametrize(
    "command",
    [[], ["up"], ["serve"], ["migrate"], ["webhooks", "replay"], ["integration", "add"]],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = run_loopline(*command, "--help", env=loopline_env())
    assert result.returncode == 0, result.stderr
    assert "Usage: loopline" in result.stdout


@pytest.mark.parametrize("how", [["--version"], ["version"]])
def test_version_prints_the_package_version(how: list[str]) -> None:
    result = run_loopline(*how, env=loopline_env())
    assert result.returncode == 0
    assert result.stdout.strip() == f"loopline {version('loopline')}"


def test_shell_completion_is_offered() -> None:
    result = run_loopline("--help", env=loopline_env())
    assert "--install-completion" in result.stdout
    assert "--show-completion" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["token", "list"],
        ["integration", "list"],
        ["integration", "add"],
        ["integration", "remove"],
        ["webhooks", "list"],
        ["webhooks", "replay"],
    ],
)
def test_every_command_that_finds_an_instance_takes_data_dir(command: list[str]) -> None:
    result = run_loopline(*command, "--help", env=loopline_env())
    assert "--data-dir" in result.stdout, result.stdout


async def _applied(dsn: str) -> list[tuple[int, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    return [(row["version"], row["checksum"]) for row in rows]


def test_migrate_applies_then_is_up_to_date(empty_database: str) -> None:
    env = loopline_env(DATABASE_URL=empty_database)
    shipped = shipped_migrations()

    # The first run applies every shipped migration and names each.
    first = run_loopline("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {m.filename}" for m in shipped]

    # The second has nothing to do and says so.
    second = run_loopline("migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout
    assert asyncio.run(_applied(empty_database)) == [(m.version, m.checksum) for m in shipped]


def test_two_concurrent_migrates_are_safe(empty_database: str) -> None:
    env = loopline_env(DATABASE_URL=empty_database)

    # Two processes race on the same empty database.
    processes = [
        subprocess.Popen(
            [LOOPLINE, "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]

    # Both succeed; exactly one applied the migrations, the other found them done.
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sorted("up to date" in out for out, _ in outputs) == [False, True], outputs
    shipped = shipped_migrations()
    assert asyncio.run(_applied(empty_database)) == [(m.version, m.checksum) for m in shipped]


def test_migrate_refuses_a_changed_shipped_migration(empty_database: str) -> None:
    env = loopline_env(DATABASE_URL=empty_database)
    assert run_loopline("migrate", env=env).returncode == 0

    # The database remembers a different checksum for 0001 than the file now has.
    async def tamper() -> None:
        conn = await asyncpg.connect(empty_database)
        try:
            await conn.execute("UPDATE schema_migrations SET checksum = 'f00d' WHERE version = 1")
        finally:
            await conn.close()

    asyncio.run(tamper())

    # migrate refuses in one line that names the file.
    result = run_loopline("migrate", env=env)
    assert result.returncode == 1
    assert "0001_event_store.sql was changed" in one_error_line(result.stderr)


def test_an_unreachable_database_is_one_line() -> None:
    env = loopline_env(DATABASE_URL="postgresql://loopline@127.0.0.1:1/loopline")
    result = run_loopline("migrate", env=env)
    assert result.returncode == 1
    assert "cannot connect to PostgreSQL" in one_error_line(result.stderr)


def test_a_bad_setting_is_one_line_naming_the_variable() -> None:
    result = run_loopline("migrate", env=loopline_env(LOOPLINE_POOL_MAX_SIZE="lots"))
    assert result.returncode == 1
    assert "LOOPLINE_POOL_MAX_SIZE" in one_error_line(result.stderr)


def test_serve_without_database_url_says_to_use_up() -> None:
    result = run_loopline("serve", env=loopline_env())
    assert result.returncode == 1
    assert "loopline up" in one_error_line(result.stderr)
