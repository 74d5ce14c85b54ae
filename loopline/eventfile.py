"""The event log as JSON Lines: one stored event a line, readable by people and re-importable.

Each line is `{"position", "originator_id", "originator_version", "topic", "state"}`, where
`state` is the event's stored JSON as a JSON value. A state that would not come back
byte for byte that way (not JSON, or JSON written with other spacing) is kept as
`state_base64` instead, so an import restores every event exactly as it was stored.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Notification
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from domain.index import HUMAN_KEY
from domain.keys import parse_key
from infra.database import connect, create_pool
from infra.eventlog import StoreNotEmpty, finish_import, insert_exact, lock_empty_store
from infra.recorder import AsyncpgRecorder
from infra.settings import Settings
from loopline.records import UnusableFile, read_records

__all__ = ["StoreNotEmpty", "dump", "line", "parse", "restore"]

BATCH = 1000
_INDEX_REGISTERED = "domain.index:Index.Registered"


def line(event: Notification) -> str:
    """One event as a JSON line (without the newline)."""
    body: dict[str, Any] = {
        "position": event.id,
        "originator_id": str(event.originator_id),
        "originator_version": event.originator_version,
        "topic": event.topic,
    }
    state = _json_state(event.state)
    if state is None:
        body["state_base64"] = base64.b64encode(event.state).decode("ascii")
    else:
        body["state"] = state
    return json.dumps(body, ensure_ascii=False)


def _json_state(state: bytes) -> Any:
    try:
        value = msgspec.json.decode(state)
    except msgspec.DecodeError:
        return None
    if msgspec.json.encode(value) != state:
        return None
    return value


async def dump(settings: Settings, dsn: str, out: IO[str]) -> int:
    """Write every stored event in position order to `out`; the number written."""
    pool = await create_pool(settings, dsn)
    try:
        recorder = AsyncpgRecorder(pool)
        head = await recorder.max_notification_id()
        written = 0
        with _progress("exporting events") as progress:
            task = progress.add_task("events", total=head)
            after = 0
            while True:
                batch = await recorder.select_notifications(after, BATCH, stop=head)
                if not batch:
                    break
                out.writelines(line(event) + "\n" for event in batch)
                after = batch[-1].id
                written += len(batch)
                progress.update(task, completed=after)
        return written
    finally:
        await pool.close()


def parse(path: Path) -> list[Notification]:
    """Every event of an exported file, in order; `UnusableFile` at the first bad line."""
    _, records = read_records(path, "jsonl")
    events: list[Notification] = []
    for record in records:
        if record.error is not None:
            raise UnusableFile(f"{path}: line {record.line}: {record.error}")
        try:
            event = _event(record.values)
        except (KeyError, TypeError, ValueError, binascii.Error) as error:
            raise UnusableFile(
                f"{path}: line {record.line}: not an exported event ({error!s})"
            ) from None
        if events and event.id <= events[-1].id:
            raise UnusableFile(f"{path}: line {record.line}: positions must increase")
        events.append(event)
    return events


def _event(values: dict[str, Any]) -> Notification:
    position = values["position"]
    version = values["originator_version"]
    if not isinstance(position, int) or not isinstance(version, int) or position < 1:
        raise ValueError("position and originator_version must be positive integers")
    if not isinstance(values["topic"], str):
        raise ValueError("topic must be text")
    if "state_base64" in values:
        state = base64.b64decode(values["state_base64"], validate=True)
    else:
        state = msgspec.json.encode(values["state"])
    return Notification(
        id=position,
        originator_id=UUID(values["originator_id"]),
        originator_version=version,
        topic=values["topic"],
        state=state,
    )


def key_counters(events: list[Notification]) -> dict[str, int]:
    """The highest FB-n and DEC-n each prefix reached, from the key indexes registered."""
    counters: dict[str, int] = {}
    for event in events:
        if event.topic != _INDEX_REGISTERED:
            continue
        try:
            state = msgspec.json.decode(event.state)
        except msgspec.DecodeError:
            continue
        if not isinstance(state, dict) or state.get("kind") != HUMAN_KEY:
            continue
        parsed = parse_key(str(state.get("key", "")))
        if parsed is not None:
            prefix, number = parsed
            counters[prefix] = max(counters.get(prefix, 0), number)
    return counters


async def restore(settings: Settings, dsn: str, events: list[Notification]) -> int:
    """Insert `events` unchanged, positions included, in one transaction; empty store only."""
    conn = await connect(settings, dsn)
    try:
        async with conn.transaction():
            await lock_empty_store(conn)
            with _progress("importing events") as progress:
                task = progress.add_task("events", total=len(events))
                for batch in _batches(events):
                    await insert_exact(conn, batch)
                    progress.advance(task, len(batch))
            await finish_import(conn, key_counters(events))
    finally:
        await conn.close()
    return len(events)


def _batches(events: list[Notification]) -> Iterator[list[Notification]]:
    for start in range(0, len(events), BATCH):
        yield events[start : start + BATCH]


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )
