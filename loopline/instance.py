"""Files in the data directory that tell local clients (the TUI) how to reach this instance."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import NamedTuple

from infra.settings import Settings


class InstanceFileError(RuntimeError):
    """Raised when the token or instance file cannot be read or written."""


class AdminToken(NamedTuple):
    """The bootstrap admin token and where it is kept."""

    value: str
    kept_in: str
    """Where a user finds it again: the environment variable or the token file."""
    generated: bool
    """Made just now: shown once, the only time `up` prints it."""


def admin_token(settings: Settings) -> AdminToken:
    """LOOPLINE_ADMIN_TOKEN, else the bootstrap token in the token file, created (0600) once."""
    if settings.admin_token:
        return AdminToken(settings.admin_token, "LOOPLINE_ADMIN_TOKEN", generated=False)
    path = settings.token_file
    try:
        if path.exists():
            token = path.read_text(encoding="utf-8").strip()
            if token:
                return AdminToken(token, str(path), generated=False)
        token = secrets.token_urlsafe(32)
        _write_private(path, token + "\n")
    except OSError as error:
        raise InstanceFileError(f"token file {path}: {error.strerror or error}") from None
    return AdminToken(token, str(path), generated=True)


def write_instance(settings: Settings, url: str) -> None:
    """Record where this instance listens (read by the TUI)."""
    path = settings.instance_file
    body = json.dumps({"url": url, "pid": os.getpid()}, indent=2) + "\n"
    try:
        _write_private(path, body)
    except OSError as error:
        raise InstanceFileError(f"instance file {path}: {error.strerror or error}") from None


def _write_private(path: Path, text: str) -> None:
    # Written to a private temp file and renamed: readers never see half a file,
    # and the token is never world-readable, not even for a moment.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
