"""Undo of the last triage action, as the API allows it.

The event store never forgets: an undo is new commands that bring each item back to the
state it had before (its status, team, tags, impact and deferral date), not an erasure.

What each undo does:
- triage: back to the previous team (re-triage); an item that was `new` is declined
  ("undo") and reopened, which is the API's only way back to `new`;
- decline: reopen, then re-triage or re-defer when it had been triaged or deferred;
- defer: re-triage into the previous team, or decline + reopen back to `new`;
- plan: unlink the item from the decision (back to `triaged`);
- duplicate: not undoable (the API cannot split a merge); `u` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from tui.client import ApiClient, ApiError, FeedbackItem, WriteResult

UNDO_REASON = "undo in the terminal UI"


class CannotUndo(ApiError):
    """Raised when the API offers no way back from an action."""

    def __init__(self, detail: str) -> None:
        super().__init__(0, "Cannot undo", detail)


@dataclass(frozen=True)
class Before:
    """What an item looked like before an action."""

    key: str
    id: str
    status: str
    team: str | None
    tags: tuple[str, ...]
    impact: str | None
    deferred_until: date | None

    @classmethod
    def of(cls, item: FeedbackItem) -> Before:
        return cls(
            key=item.key,
            id=str(item.id),
            status=item.status,
            team=item.team,
            tags=tuple(item.tags),
            impact=item.impact,
            deferred_until=item.deferred_until,
        )


@dataclass(frozen=True)
class Action:
    """One user action (possibly on several items) that `u` can take back."""

    name: str
    before: tuple[Before, ...]
    decision: str | None = None
    statuses_after: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        keys = ", ".join(b.key for b in self.before[:3])
        more = f" and {len(self.before) - 3} more" if len(self.before) > 3 else ""
        return f"{self.name} of {keys}{more}"


async def restore(client: ApiClient, before: Before, now_status: str, decision: str | None) -> int:
    """Bring one item from `now_status` back to `before`; the position of its last write."""
    writes: list[WriteResult] = []
    status = now_status
    if status == "duplicate":
        raise CannotUndo(f"{before.key} was merged as a duplicate; the API cannot split it")
    if status == "planned" and decision is not None:
        writes.append(await client.unlink_feedback(decision, before.id))
        status = "triaged"
    if status in ("declined", "shipped", "closed"):
        writes.append(await client.reopen(before.id, UNDO_REASON))
        status = "new"
    if before.status == "new":
        if status != "new":
            writes.append(await client.decline(before.id, UNDO_REASON))
            writes.append(await client.reopen(before.id, UNDO_REASON))
        return last(writes)
    if before.team is not None and (before.status in ("triaged", "deferred")):
        writes.append(
            await client.triage(
                before.id, before.team, tags=list(before.tags), impact=before.impact
            )
        )
        status = "triaged"
    if before.status == "deferred" and before.deferred_until is not None:
        writes.append(await client.defer(before.id, before.deferred_until, UNDO_REASON))
    return last(writes)


def last(writes: list[WriteResult]) -> int:
    return max((w.position or 0 for w in writes), default=0)


async def undo(client: ApiClient, action: Action) -> tuple[list[str], int]:
    """Undo every item of `action`; the keys restored and the position of the last write."""
    restored: list[str] = []
    position = 0
    for before in action.before:
        now = action.statuses_after.get(before.key)
        if now is None:
            continue
        position = max(position, await restore(client, before, now, action.decision))
        restored.append(before.key)
    return restored, position
