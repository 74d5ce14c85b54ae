"""Answers asked for before the screen that needs them exists: while the app starts
(composes, lays out, paints), the server is already answering the inbox's first questions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Hashable
from typing import Any

TTL = 10.0
"""Seconds an answer asked ahead may wait to be taken: older, it is asked again."""


class Ahead:
    """Questions asked ahead, by key; each answer is taken once, while it is fresh."""

    def __init__(self) -> None:
        self._asked: dict[Hashable, tuple[asyncio.Task[Any], float]] = {}

    def ask(self, key: Hashable, question: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(question)
        # Nobody may take it: its failure must not be reported as "never retrieved".
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._asked[key] = (task, time.monotonic() + TTL)
        return task

    def take(self, key: Hashable) -> asyncio.Task[Any] | None:
        """The answer asked for under `key` (awaiting it gives the answer or raises what
        asking raised), once; None if it was not asked, was taken, or is stale."""
        found = self._asked.pop(key, None)
        if found is None:
            return None
        task, fresh_until = found
        if time.monotonic() > fresh_until:
            task.cancel()
            return None
        return task

    def forget(self) -> None:
        for task, _ in self._asked.values():
            task.cancel()
        self._asked.clear()
