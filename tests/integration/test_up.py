"""`loopline up` as a real subprocess: embedded PostgreSQL, /healthz, clean stop, data kept."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from infra.database import create_pool
from infra.recorder import AsyncpgRecorder
from infra.settings import load_settings
from migrations.runner import latest_level
from tests.processes import (
    free_port,
    loopline_env,
    one_error_line,
    run_loopline,
    start_loopline,
    wait_healthy,
)


def embedded_dsn(pgdata: Path) -> str:
    """The running embedded server's DSN, read from postmaster.pid (no pgserver handle taken)."""
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    port, socket_dir = lines[3].strip(), lines[4].strip()
    return f"postgresql://postgres@/loopline?host={socket_dir}&port={port}"


async def _append(dsn: str, originator_id: UUID) -> None:
    pool = await create_pool(load_settings({}, pool_min_size=1), dsn)
    try:
        event = StoredEvent(
            originator_id=originator_id, originator_version=1, topic="tests:Kept", state=b"{}"
        )
        await AsyncpgRecorder(pool).append([event])
    finally:
        await pool.close()


async def _versions(dsn: str, originator_id: UUID) -> list[int]:
    pool = await create_pool(load_settings({}, pool_min_size=1), dsn)
    try:
        events = await AsyncpgRecorder(pool).select_events(originator_id)
    finally:
        await pool.close()
    return [event.originator_version for event in events]


def _stop(process: subprocess.Popen[str], sig: signal.Signals) -> tuple[str, str]:
    process.send_signal(sig)
    return process.communicate(timeout=60)


@pytest.mark.slow
def test_up_serves_stops_cleanly_and_finds_its_data_again(embedded_dir: Path) -> None:
    data_dir = embedded_dir / "data"
    pgdata = data_dir / "pgdata"
    env = loopline_env()  # no DATABASE_URL: the embedded server
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ("up", "--data-dir", str(data_dir), "--port", str(port))
    kept = uuid4()

    # First start, on an empty data directory: it answers /healthz and takes a write.
    first = start_loopline(*command, env=env)
    try:
        health = wait_healthy(url, first)
        assert health.json()["migration_level"] == latest_level()
        asyncio.run(_append(embedded_dsn(pgdata), kept))
    finally:
        out, err = _stop(first, signal.SIGINT)

    # Ctrl-C stops it cleanly; the embedded PostgreSQL stopped with it.
    assert first.returncode == 0, err
    assert "Traceback" not in err
    assert f"Loopline is running at {url}" in out
    assert not (pgdata / "postmaster.pid").exists(), "the embedded PostgreSQL is still running"

    # It left the bootstrap admin token (private) and where it listened, for the TUI; the
    # token was printed once, as it was made.
    token = (data_dir / "admin-token").read_text().strip()
    assert f"admin token: {token} (kept in {data_dir / 'admin-token'})" in out
    assert stat.S_IMODE((data_dir / "admin-token").stat().st_mode) == 0o600
    assert json.loads((data_dir / "instance.json").read_text())["url"] == url

    # The second start on the same directory finds the data and the same token.
    second = start_loopline(*command, env=env)
    try:
        wait_healthy(url, second)
        assert asyncio.run(_versions(embedded_dsn(pgdata), kept)) == [1]
    finally:
        out, err = _stop(second, signal.SIGTERM)

    # SIGTERM stops it as cleanly as Ctrl-C.
    assert second.returncode == 0, err
    assert "migrations: up to date" in out
    # The token is not printed again, only where it is kept.
    assert token not in out + err
    assert f"admin token: in {data_dir / 'admin-token'}" in out
    assert not (pgdata / "postmaster.pid").exists()


def test_up_with_database_url_starts_no_embedded_server(
    empty_database: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = loopline_env(DATABASE_URL=empty_database, LOOPLINE_ADMIN_TOKEN="s3cret")

    process = start_loopline("up", "--data-dir", str(data_dir), "--port", str(port), env=env)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
    finally:
        out, err = _stop(process, signal.SIGINT)

    assert process.returncode == 0, err
    assert "s3cret" not in out + err
    assert "admin token: in LOOPLINE_ADMIN_TOKEN" in out
    assert not (data_dir / "pgdata").exists()
    assert not (data_dir / "admin-token").exists()


def test_serve_migrates_and_serves_database_url(empty_database: str) -> None:
    port = free_port()
    process = start_loopline(
        "serve", "--port", str(port), env=loopline_env(DATABASE_URL=empty_database)
    )
    try:
        health = wait_healthy(f"http://127.0.0.1:{port}", process)
        assert health.json()["migration_level"] == latest_level()
    finally:
        _out, err = _stop(process, signal.SIGTERM)
    assert process.returncode == 0, err


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "a-file"
    not_a_directory.write_text("not a directory")

    result = run_loopline(
        "up", "--data-dir", str(not_a_directory), "--port", str(free_port()), env=loopline_env()
    )

    assert result.returncode == 1
    assert f"{not_a_directory} is a file, not a directory" in one_error_line(result.stderr)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_data_dir_is_one_line(tmp_path: Path) -> None:
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        result = run_loopline(
            "up", "--data-dir", str(read_only), "--port", str(free_port()), env=loopline_env()
        )
    finally:
        read_only.chmod(0o700)

    assert result.returncode == 1
    assert "not writable" in one_error_line(result.stderr)


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_loopline(
            "up", "--data-dir", str(tmp_path), "--port", str(port), env=loopline_env()
        )

    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in one_error_line(result.stderr)
