"""Batch-local row cache: load the rows a batch touches in one query, change them in
memory while applying the batch's events, write each changed row back once: rows the
table did not have with COPY, the others with one merge (many: COPY into a staging table,
then one INSERT … ON CONFLICT from it; a few: one upsert each)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from infra.database import Connection

#: From this many rows on, a flush copies new ones in and merges known ones through a
#: staging table; fewer are upserted one by one.
MERGE_FROM = 32


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
        self._values = itemgetter(*self.columns)
        # Temporary, so invisible to other sessions; emptied by the merge that reads it.
        self._stage = f"_stage_{table}"
        self._create_stage = (
            f"CREATE TEMP TABLE IF NOT EXISTS {self._stage} ON COMMIT DELETE ROWS AS "
            f"SELECT {cols} FROM {table} WITH NO DATA"
        )
        self._merge = (
            f"WITH staged AS (DELETE FROM {self._stage} RETURNING *) "
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM staged "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )

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

    def add(self, values: dict[str, Any], *, new: bool = False) -> dict[str, Any]:
        """A new row; columns not given start as None (the table's defaults do not apply).
        It is copied in when `load` looked for its key and the table lacked it, or when
        the caller knows the table lacks it (`new`: the event creating it, applied once),
        else upserted (the table may have it)."""
        row = dict.fromkeys(self.columns)
        row.update(values)
        key = row[self.key]
        self._rows[key] = row
        self._loaded.add(key)
        self._changed.add(key)
        if new:
            self._absent.add(key)
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
        most rows are), known ones with one merge from a staging table; a few rows (a live
        batch) with one upsert each."""
        if not self._changed:
            return
        fresh = [k for k in self._changed if k in self._new]
        known = [k for k in self._changed if k not in self._new]
        if len(fresh) < MERGE_FROM:
            # A few (a live batch): one prepared upsert each costs less than a COPY.
            known += fresh
            fresh = []
        if fresh:
            await conn.copy_records_to_table(
                self.table, records=self._records(fresh), columns=list(self.columns)
            )
        if len(known) >= MERGE_FROM:
            await conn.execute(self._create_stage)
            await conn.copy_records_to_table(
                self._stage, records=self._records(known), columns=list(self.columns)
            )
            await conn.execute(self._merge)
        elif known:
            await conn.executemany(self._upsert, self._records(known))
        self._absent.difference_update(fresh)
        self._new.clear()
        self._changed.clear()

    def _records(self, keys: Iterable[Any]) -> list[tuple[Any, ...]]:
        values, rows = self._values, self._rows
        return [values(rows[k]) for k in keys]
