"""The demo organisation: loaded once, through the application services, into a store.

`load_demo` runs the simulation in `loopline.demo.world` and then records a marker (an
index aggregate, kind `demo`), so loading again finds the marker and adds nothing. A store
that holds the demo's first team but no marker was interrupted mid-load (or holds someone
else's team of that name): `DemoConflict`, one line, rather than a half-doubled demo.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.index import Index
from domain.ports import EventStore
from domain.services import resolve_team
from domain.services.base import find_index
from domain.team import TeamNotFound
from loopline.demo import catalog
from loopline.demo.world import DEFAULT_SIZE, DemoReport, DemoSize, Progress, World

__all__ = [
    "DEFAULT_SIZE",
    "DemoConflict",
    "DemoReport",
    "DemoSize",
    "default_anchor",
    "demo_loaded",
    "load_demo",
]

MARKER_KIND = "demo"
MARKER_KEY = "organisation"


class DemoConflict(RuntimeError):
    """Raised when the store holds part of the demo (or a clashing team) but no marker."""


def default_anchor(now: datetime | None = None) -> datetime:
    """The end of the demo's history: the start of this week (Monday 00:00 UTC).

    The simulation's working days follow the calendar, so anchoring it to a week start
    makes a seed give exactly the same organisation whenever it is generated.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    monday = now - timedelta(days=now.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


async def demo_loaded(store: EventStore) -> bool:
    """Whether the demo's marker is in the store."""
    return await find_index(store, MARKER_KIND, MARKER_KEY) is not None


async def load_demo(
    store: EventStore,
    *,
    seed: int = 1,
    size: DemoSize = DEFAULT_SIZE,
    anchor: datetime | None = None,
    progress: Progress | None = None,
) -> DemoReport | None:
    """Generate the demo organisation into `store`; None when it is already there."""
    if await demo_loaded(store):
        return None
    first = catalog.TEAMS[0].slug
    try:
        await resolve_team(store, first)
    except TeamNotFound:
        pass
    else:
        raise DemoConflict(
            f"a team {first!r} exists but the demo was never completely loaded here "
            "(an interrupted load, or your own team of that name); "
            "load the demo into a fresh data directory or database"
        )
    when = default_anchor() if anchor is None else anchor
    world = World(store, seed=seed, size=size, anchor=when)
    report = await world.run(progress)
    marker = Index(
        kind=MARKER_KIND, key=MARKER_KEY, target_id=world.teams[0].id, registered_at=when
    )
    await store.save(marker)
    return report
