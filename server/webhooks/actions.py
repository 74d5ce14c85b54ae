"""What a delivery means, independent of who sent it: the mapper turns these into commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from domain.increment import Commit


class Deployment(msgspec.Struct, frozen=True, kw_only=True):
    """A finished deployment or release of `repository` to `environment`."""

    repository: str
    environment: str
    succeeded: bool
    external_ref: str
    deployment_key: str
    started_at: datetime
    finished_at: datetime
    commit_sha: str | None = None
    release_version: str | None = None
    commits: tuple[Commit, ...] = ()
    texts: tuple[str, ...] = ()
    rolls_back: tuple[str, ...] = ()
    """External refs of earlier deployments this one says it rolls back."""


class Push(msgspec.Struct, frozen=True, kw_only=True):
    """Commits pushed to `repository`, moving a ref from `before` to `after`."""

    repository: str
    before: str
    after: str
    pushed_at: datetime
    commits: tuple[Commit, ...]


class Merge(msgspec.Struct, frozen=True, kw_only=True):
    """A merged change: its title, body and branch name belong to `merge_sha`; with its
    times, the pull request is recorded for its lead time (coding, review, deploy)."""

    repository: str
    merge_sha: str
    origin: str
    texts: tuple[str, ...]
    title: str | None = None
    opened_at: datetime | None = None
    merged_at: datetime | None = None
    head_sha: str | None = None
    """The branch's last commit: its first commit is looked for in the pushes before it."""
    base_sha: str | None = None
    """Where the branch started, when the sender says (the branch's pushes stop there)."""


class IncidentOpened(msgspec.Struct, frozen=True, kw_only=True):
    repository: str
    title: str
    opened_at: datetime
    external_ref: str
    caused_by_sha: str | None = None


class IncidentResolved(msgspec.Struct, frozen=True, kw_only=True):
    repository: str
    title: str
    opened_at: datetime
    resolved_at: datetime
    external_ref: str
    resolution: str | None = None


class Ignore(msgspec.Struct, frozen=True):
    """Nothing to do; `reason` says why (kept with the delivery for operators)."""

    reason: str


Action = Deployment | Push | Merge | IncidentOpened | IncidentResolved | Ignore

ZERO_SHA = "0" * 40


class PayloadError(ValueError):
    """Raised when a payload lacks a field its event needs (the delivery fails, with why)."""


def field(payload: Any, *path: str) -> Any:
    """`payload[path[0]][path[1]]…`, or None where any step is missing."""
    value = payload
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def text(payload: Any, *path: str) -> str | None:
    value = field(payload, *path)
    return value if isinstance(value, str) and value.strip() else None


def required(payload: Any, *path: str) -> Any:
    value = field(payload, *path)
    if value is None or value == "":
        raise PayloadError(f"the payload has no {'.'.join(path)}")
    return value


def when(value: Any, name: str = "time") -> datetime:
    """An ISO 8601 (or GitLab's `2024-01-02 03:04:05 UTC`) time as an aware UTC datetime."""
    if not isinstance(value, str):
        raise PayloadError(f"{name} is not a time")
    raw = value.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
    if " " in raw and "T" not in raw:
        date_part, _, rest = raw.partition(" ")
        raw = f"{date_part}T{rest.replace(' ', '')}"
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise PayloadError(f"{name} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def sha(value: Any) -> str | None:
    """A commit sha in the domain's form (lowercase hex), or None when it is not one."""
    if not isinstance(value, str):
        return None
    lowered = value.strip().lower()
    if 7 <= len(lowered) <= 64 and all(c in "0123456789abcdef" for c in lowered):
        return lowered
    return None


def commit(sha_value: Any, authored: Any, message: Any) -> Commit | None:
    found = sha(sha_value)
    if found is None or not isinstance(authored, str):
        return None
    return Commit(sha=found, authored_at=when(authored), message=str(message or "")[:100_000])


def distinct(commits: list[Commit | None]) -> tuple[Commit, ...]:
    seen: dict[str, Commit] = {}
    for c in commits:
        if c is not None:
            seen.setdefault(c.sha, c)
    return tuple(seen.values())
