"""Undo of the changes this terminal UI made since it started, newest first, many levels.

Each undo is one call per item, `POST /api/feedback/{key}/undo`: the server records a
correction that cancels the version the action made (and anything after it), and every
number then counts the item as if the action had not happened. The UI sends the version
it last wrote as `If-Match`, so an item someone else changed since is refused (412), not
silently overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.client import ApiClient, ApiError, WriteResult


@dataclass(frozen=True)
class Change:
    """One item's change by an action: its key and the version that change made."""

    key: str
    version: int


@dataclass(frozen=True)
class Action:
    """One user action (possibly on several items) that `u` can take back."""

    name: str
    changes: tuple[Change, ...]

    @classmethod
    def of(cls, name: str, results: dict[str, WriteResult]) -> Action:
        return cls(name, tuple(Change(key, r.version) for key, r in results.items()))

    @property
    def label(self) -> str:
        keys = ", ".join(c.key for c in self.changes[:3])
        more = f" and {len(self.changes) - 3} more" if len(self.changes) > 3 else ""
        return f"{self.name} of {keys}{more}"


@dataclass(frozen=True)
class Undone:
    """What one undo did: the keys taken back, the position of the last write, and one
    message per item that could not be taken back."""

    keys: list[str]
    position: int
    failures: list[str]


class UndoStack:
    """The actions made since the UI started, newest last."""

    def __init__(self) -> None:
        self._actions: list[Action] = []
        self._latest: dict[str, int] = {}  # the version of each item our last write made

    def __bool__(self) -> bool:
        return bool(self._actions)

    def push(self, action: Action) -> None:
        self._actions.append(action)
        for change in action.changes:
            self._latest[change.key] = change.version

    def pop(self) -> Action | None:
        return self._actions.pop() if self._actions else None

    async def undo(self, client: ApiClient, action: Action) -> Undone:
        """Take back every item of `action`: one correction each."""
        keys: list[str] = []
        failures: list[str] = []
        position = 0
        for change in action.changes:
            try:
                result = await client.undo(
                    change.key,
                    before_version=change.version,
                    version=self._latest.get(change.key, change.version),
                )
            except ApiError as error:
                failures.append(f"{change.key}: {error.detail}")
                continue
            self._latest[change.key] = result.version
            position = max(position, result.position or 0)
            keys.append(change.key)
        return Undone(keys, position, failures)
