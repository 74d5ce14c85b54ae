"""Running the real `loopline` console script as a subprocess, for CLI tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api_helpers import VERIFY_LOOPBACK

LOOPLINE = str(Path(sys.executable).with_name("loopline"))


def loopline_env(**variables: str) -> dict[str, str]:
    """This environment minus Loopline's settings (no DATABASE_URL: embedded), plus `variables`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith("LOOPLINE_")
    }
    env.update(variables)
    return env


def run_loopline(
    *args: str, env: dict[str, str], timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOOPLINE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def start_loopline(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [LOOPLINE, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def kill_and_reap(process: subprocess.Popen[str]) -> None:
    """Kills `process` if it still runs, and reaps it (waiting at most 10 s)."""
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 90.0) -> httpx.Response:
    """The first 200 from `url`/healthz; AssertionError (with the output) if it never comes."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, verify=VERIFY_LOOPBACK) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                out, err = process.communicate()
                raise AssertionError(f"loopline exited {process.returncode}\n{out}\n{err}")
            try:
                response = client.get(f"{url}/healthz")
                if response.status_code == 200:
                    return response
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    process.kill()
    out, err = process.communicate()
    raise AssertionError(f"no healthy answer from {url} in {timeout}s\n{out}\n{err}")


def one_error_line(stderr: str) -> str:
    """The single `loopline: error:` line; fails on tracebacks or extra noise."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("loopline: error: "), stderr
    return lines[0]
