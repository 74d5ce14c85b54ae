"""`loopline up` owns the embedded PostgreSQL it started: a handle left by a killed `up` is
cleaned at the next start (so the server stops with the last Loopline process), and a server
that dies and cannot start again ends `up` with one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.processes import free_port, loopline_env, start_loopline, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(embedded_dir: Path) -> Path:
    return embedded_dir / "data"


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for init to reap it (which takes seconds here)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return not Path("/proc").is_dir()  # without /proc (macOS) the pid is all we know
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def wait_until(condition: str, check: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not {condition} within {within}s"
        time.sleep(0.1)


def test_a_killed_up_leaves_no_server_behind_after_the_next_start(data_dir: Path) -> None:
    pgdata = data_dir / "pgdata"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ("up", "--data-dir", str(data_dir), "--port", str(port))

    # `up` is killed outright: no cleanup runs, its server keeps running with its handle.
    first = start_loopline(*command, env=loopline_env())
    wait_healthy(url, first)
    server = postmaster_pid(pgdata)
    first.kill()
    first.communicate(timeout=60)
    assert alive(server)
    assert first.pid in json.loads((pgdata / ".handle_pids.json").read_text())

    # The next start adopts that server and forgets the dead handle...
    second = start_loopline(*command, env=loopline_env())
    try:
        wait_healthy(url, second)
        assert postmaster_pid(pgdata) == server
        assert first.pid not in json.loads((pgdata / ".handle_pids.json").read_text())
    finally:
        second.send_signal(signal.SIGTERM)
        _out, err = second.communicate(timeout=60)

    # ...so the server stops with it, the last Loopline process.
    assert second.returncode == 0, err
    assert not (pgdata / "postmaster.pid").exists()
    wait_until("stopped", lambda: not alive(server), within=10)


def test_a_server_that_cannot_start_again_ends_up_with_one_line(data_dir: Path) -> None:
    pgdata = data_dir / "pgdata"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = loopline_env(LOOPLINE_EMBEDDED_RESTART_TIMEOUT="3")
    process = start_loopline("up", "--data-dir", str(data_dir), "--port", str(port), env=env)
    try:
        wait_healthy(url, process)
        # A setting PostgreSQL refuses, then the postmaster killed: it cannot come back.
        with (pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\nno_such_setting_at_all = on\n")
        os.kill(postmaster_pid(pgdata), signal.SIGKILL)
        _out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)

    assert process.returncode == 1
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith("loopline: error: the embedded PostgreSQL in "), err[-2000:]
    assert "did not start again within 3s" in last
    assert str(pgdata / "log") in last
    assert "loopline: stopped" not in err
    # Nothing answers any more: `up` is gone, so a supervisor (systemd, Docker) can act.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2.0)
