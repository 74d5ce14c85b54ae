"""A projection worker for the ordering-chaos test, run as its own process so it can be
killed with SIGKILL: each consumer's read model is the table of positions it has seen.

    python -m tests.reliability.seen_worker <dsn> <consumer> [<consumer> ...]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import asyncpg

from infra.database import Connection
from infra.eventstore import create_mapper
from infra.recorder import AsyncpgRecorder
from projections.base import Positioned, Projection
from projections.runner import ProjectionRunner


class Seen(Projection):
    """Records every position it is given; a duplicate shows as a repeated row."""

    version = 1
    topics = ()  # every event

    def schema_sql(self) -> str:
        return f"CREATE TABLE {self.tables[0]} (position bigint NOT NULL)"

    async def apply(self, conn: Connection, events: Sequence[Positioned]) -> None:
        await conn.execute(
            f"INSERT INTO {self.tables[0]} (position) SELECT unnest($1::bigint[])",
            [position for position, _ in events],
        )


def consumer(name: str) -> Seen:
    cls = type(f"Seen_{name}", (Seen,), {"name": f"seen_{name}", "tables": (f"seen_{name}",)})
    projection: Seen = cls()
    return projection


def runner(dsn: str, pool: asyncpg.Pool, names: Sequence[str]) -> ProjectionRunner:
    return ProjectionRunner(
        dsn,
        AsyncpgRecorder(pool),
        create_mapper(),
        [consumer(name) for name in names],
        batch_size=7,
        poll_interval=0.05,
        lease_retry=0.1,
    )


async def main(dsn: str, names: Sequence[str]) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    print("projecting", flush=True)
    await runner(dsn, pool, names).run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
