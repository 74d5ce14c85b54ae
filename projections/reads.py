"""What each query reads, declared where the query is written.

A query over the read models is decorated `@reads("feedback", "directory")` with the
projections whose tables it reads. Cached answers (projections/cache.py) last until one of
those projections moves on, so the declaration is what keeps a cached answer true; callers
take it from the query (`query.reads`) and never write their own list.

While `checking` is on (the test suite turns it on), every statement a query runs is
parsed for the read models it names (`read.<table>`), and naming a table of a projection
it does not declare raises `UndeclaredRead`: a declaration that falls behind its SQL fails
the tests that run the query.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast

from infra.database import Connection

P = ParamSpec("P")
T = TypeVar("T")

_READ_TABLE = re.compile(r'\bread\."?([a-z_][a-z0-9_]*)"?', re.IGNORECASE)

checking = False
"""Parse every statement a declared query runs (the test suite turns this on)."""


class UndeclaredRead(AssertionError):
    """Raised when a query reads a read model it does not declare (only while `checking`)."""


class ReadQuery(Generic[P, T]):
    """A query function with the projections it reads (`reads`); call it like the function."""

    def __init__(
        self, fn: Callable[Concatenate[Connection, P], Awaitable[T]], reads: tuple[str, ...]
    ):
        self.fn = fn
        self.reads = reads
        self.name = f"{fn.__module__}.{fn.__qualname__}"
        functools.update_wrapper(self, fn)

    async def __call__(self, conn: Connection, /, *args: P.args, **kwargs: P.kwargs) -> T:
        if checking and not isinstance(conn, _Checked):
            conn = cast(Connection, _Checked(conn, self))
        elif checking:
            conn = cast(Connection, _Checked(cast(_Checked, conn).conn, self, outer=conn))
        return await self.fn(conn, *args, **kwargs)

    def key(self, *args: Any, **kwargs: Any) -> Hashable:
        """A cache key for this query called with these arguments (lists become tuples)."""
        return (self.name, _frozen(args), _frozen(sorted(kwargs.items())))


def reads(
    *projections: str,
) -> Callable[[Callable[Concatenate[Connection, P], Awaitable[T]]], ReadQuery[P, T]]:
    """Declare the projections (by name) whose read models the decorated query reads."""

    def declare(fn: Callable[Concatenate[Connection, P], Awaitable[T]]) -> ReadQuery[P, T]:
        query = ReadQuery(fn, tuple(projections))
        DECLARED.append(query)
        return query

    return declare


DECLARED: list[ReadQuery[Any, Any]] = []
"""Every declared query, in import order."""


def tables_named(sql: str) -> set[str]:
    """The read models (`read.<table>`) a statement names."""
    return {m.group(1).lower() for m in _READ_TABLE.finditer(sql)}


@functools.cache
def owners() -> dict[str, str]:
    """Each read-model table with the projection that owns it."""
    from projections.catalog import all_projections  # the catalog imports the queries

    return {table: p.name for p in all_projections() for table in p.tables}


def check(query: ReadQuery[Any, Any], sql: str) -> None:
    """Raise `UndeclaredRead` when `sql` names a read model `query` does not declare."""
    known = owners()
    undeclared = sorted(
        f"{table} (of {known.get(table, 'no projection')})"
        for table in tables_named(sql)
        if known.get(table) not in query.reads
    )
    if undeclared:
        raise UndeclaredRead(
            f"{query.name} reads {', '.join(undeclared)} but declares {', '.join(query.reads)}"
        )


class _Checked:
    """A connection that checks each statement against a query's declaration (and the
    declaration of the query that called it, if any)."""

    def __init__(self, conn: Any, query: ReadQuery[Any, Any], outer: Any = None) -> None:
        self.conn = conn
        self.query = query
        self.outer = outer

    def _check(self, sql: str) -> None:
        check(self.query, sql)
        if self.outer is not None:
            self.outer._check(sql)

    async def fetch(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._check(sql)
        return await self.conn.fetch(sql, *args, **kwargs)

    async def fetchrow(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._check(sql)
        return await self.conn.fetchrow(sql, *args, **kwargs)

    async def fetchval(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._check(sql)
        return await self.conn.fetchval(sql, *args, **kwargs)

    async def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._check(sql)
        return await self.conn.execute(sql, *args, **kwargs)

    def cursor(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._check(sql)
        return self.conn.cursor(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def _frozen(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return frozenset(value)
    return cast(Hashable, value)
