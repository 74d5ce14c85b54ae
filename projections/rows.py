"""Batch-local row cache: load the rows a batch touches in one query, change them in
memory while applying the batch's events, write each changed row back once: rows the
table did not have with COPY, the others with one upsert each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from infra.database import Connection


class Rows:
    """The rows of one table, keyed by one column, for the length of one batch."""

    def __init__(self, table: str, key: str, columns: Sequence[str]) -> None:
        self.table = table
        self.key = key
        self.columns = tuple(columns)
        self._rows: dict[Any, dict[str, Any]] = {}
        self._changed: set[Any] = set()
        self._loaded: set[Any] = set()
        self._absent: set[Any] = set()  # looked for by `load`, not in the table
        self._new: set[Any] = set()  # added where `load` found nothing: for COPY
        cols = ", ".join(self.columns)
        marks = ", ".join(f"${i}" for i in range(1, len(self.columns) + 1))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.columns if c != key)
        self._upsert = (
            f"INSERT INTO {table} ({cols}) VALUES ({marks}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )
        self._select = f"SELECT {cols} FROM {table} WHERE {key} = ANY($1)"

    async def load(self, conn: Connection, keys: Iterable[Any]) -> None:
        wanted = [k for k in set(keys) if k not in self._loaded and k is not None]
        if not wanted:
            return
        for record in await conn.fetch(self._select, wanted):
            self._rows[record[self.key]] = dict(record)
        self._loaded.update(wanted)
        self._absent.update(k for k in wanted if k not in self._rows)

    def get(self, key: Any) -> dict[str, Any] | None:
        return self._rows.get(key)

    def add(self, values: dict[str, Any]) -> dict[str, Any]:
        """A new row; columns not given start as None (the table's defaults do not apply).
        It is copied in when `load` looked for its key and the table lacked it, else
        upserted (the table may have it)."""
        row = dict.fromkeys(self.columns)
        row.update(values)
        key = row[self.key]
        self._rows[key] = row
        self._loaded.add(key)
        self._changed.add(key)
        if key in self._absent:
            self._new.add(key)
        return row

    def change(self, key: Any, **values: Any) -> dict[str, Any] | None:
        """Update a loaded row; None (and no change) when the row is unknown."""
        row = self._rows.get(key)
        if row is None:
            return None
        row.update(values)
        self._changed.add(key)
        return row

    async def flush(self, conn: Connection) -> None:
        """Write the changed rows: new ones with one COPY (catching up over a long history,
        most rows are), the rest with one upsert each."""
        if not self._changed:
            return
        fresh = [k for k in self._changed if k in self._new]
        known = [k for k in self._changed if k not in self._new]
        if fresh:
            await conn.copy_records_to_table(
                self.table, records=self._records(fresh), columns=list(self.columns)
            )
        if known:
            await conn.executemany(self._upsert, self._records(known))
        self._absent.difference_update(fresh)
        self._new.clear()
        self._changed.clear()

    def _records(self, keys: Iterable[Any]) -> list[tuple[Any, ...]]:
        return [tuple(self._rows[k].get(c) for c in self.columns) for k in keys]
