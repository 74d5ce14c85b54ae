"""The embedded PostgreSQL across Python versions: a data directory of another major version is
refused before anything touches it, and the documented way over (export events, import events
into a new data directory) carries the instance."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.embedded import data_major, server_major
from tests.processes import free_port, loopline_env, one_error_line, run_loopline


def snapshot(directory: Path) -> dict[str, tuple[int, int, str]]:
    """Every file's mode, modification time and content digest; every directory's mode."""
    found: dict[str, tuple[int, int, str]] = {}
    for path in sorted([directory, *directory.rglob("*")]):
        status = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        found[str(path.relative_to(directory))] = (status.st_mode, status.st_mtime_ns, digest)
    return found


def test_a_data_dir_of_another_major_version_is_one_line_and_left_untouched(
    tmp_path: Path,
) -> None:
    # A data directory whose PG_VERSION names the major version before the one we run, as
    # a user moving from Python 3.11 (PostgreSQL 16) to 3.13 (PostgreSQL 17) has.
    data_dir = tmp_path / "data"
    pgdata = data_dir / "pgdata"
    (pgdata / "base" / "1").mkdir(parents=True)
    other = server_major() - 1
    (pgdata / "PG_VERSION").write_text(f"{other}\n")
    (pgdata / "base" / "1" / "1259").write_bytes(b"\x00" * 8192)
    (pgdata / "postgresql.conf").write_text("# made by an older Loopline\n")
    before = snapshot(data_dir)

    # Starting on it fails with one line naming both versions and the way over.
    result = run_loopline(
        "up", "--data-dir", str(data_dir), "--port", str(free_port()), env=loopline_env()
    )

    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert f"made by PostgreSQL {other}" in line
    assert f"runs PostgreSQL {server_major()}" in line
    assert "loopline export events" in line
    assert "loopline import events" in line
    assert "docs/operations.md" in line

    # Nothing in it changed: no file written, touched or removed, no server log, no handle.
    assert snapshot(data_dir) == before


def test_a_new_or_same_version_data_dir_passes_the_check(tmp_path: Path) -> None:
    assert data_major(tmp_path / "absent") is None
    (tmp_path / "PG_VERSION").write_text(f"{server_major()}\n")
    assert data_major(tmp_path) == server_major()


@pytest.mark.slow
def test_export_events_then_import_events_moves_an_instance_into_a_new_data_dir(
    embedded_dir: Path, tmp_path: Path
) -> None:
    old, new = embedded_dir / "old", embedded_dir / "new"
    env = loopline_env()  # no DATABASE_URL: each command starts the embedded server itself
    feedback = tmp_path / "feedback.jsonl"
    feedback.write_text(
        json.dumps({"text": "Export is slow", "channel": "web", "external_ref": "a"})
        + "\n"
        + json.dumps({"text": "Love the board", "channel": "email", "external_ref": "b"})
        + "\n"
    )

    # An instance in the old data directory, with some history.
    made = run_loopline("import", "feedback", str(feedback), "--data-dir", str(old), env=env)
    assert made.returncode == 0, made.stderr

    # Its event log exported, then imported into a new, empty data directory.
    events = tmp_path / "events.jsonl"
    exported = run_loopline(
        "export", "events", "--output", str(events), "--data-dir", str(old), env=env
    )
    assert exported.returncode == 0, exported.stderr
    imported = run_loopline("import", "events", str(events), "--data-dir", str(new), env=env)
    assert imported.returncode == 0, imported.stderr
    count = len(events.read_text().splitlines())
    assert count >= 2
    assert f"events: {count} imported" in imported.stdout

    # The new directory holds the same events, byte for byte, at the same positions.
    copy = tmp_path / "copy.jsonl"
    again = run_loopline("export", "events", "--output", str(copy), "--data-dir", str(new), env=env)
    assert again.returncode == 0, again.stderr
    assert copy.read_text() == events.read_text()
    assert data_major(new / "pgdata") == server_major()


def test_a_throwaway_server_is_stopped_and_removed_when_its_process_exits() -> None:
    """Tests and benchmarks start theirs in a temporary directory: none is left behind (a
    full benchmark run used to leave 6 GB in /tmp)."""
    program = (
        "import asyncio, asyncpg\n"
        "from infra.embedded import start_throwaway\n"
        "dsn = start_throwaway('loopline-throwaway-test-')\n"
        "print(dsn.partition('host=')[2].split('&')[0], flush=True)\n"
        "async def ask():\n"
        "    conn = await asyncpg.connect(dsn)\n"
        "    assert await conn.fetchval('SELECT 1') == 1\n"
        "    await conn.close()\n"
        "asyncio.run(ask())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    socket_dir = Path(done.stdout.strip())
    assert socket_dir.name == "pgdata"
    assert socket_dir.parent.name.startswith("loopline-throwaway-test-")
    assert not socket_dir.parent.exists()
