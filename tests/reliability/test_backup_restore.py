"""pg_dump of a running instance, restored into a new data directory: the same events, and
read models rebuilt there equal to the original's."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from bench.data import Size, load
from domain.team import Team
from infra.database import create_pool
from infra.embedded import bin_dir
from infra.eventstore import PostgresEventStore, create_mapper
from infra.recorder import AsyncpgRecorder
from infra.settings import Settings, load_settings
from projections.catalog import all_projections
from projections.runner import wait_for_position
from tests.reliability.harness import (
    PrivateServer,
    checksums,
    events_digest,
    rebuilt,
    record,
    scaled,
)

pytestmark = pytest.mark.reliability

# The embedded server's own client binaries.
BIN = bin_dir()
FEEDBACK = scaled(600, 20_000)


@pytest.fixture
def private() -> Iterator[PrivateServer]:
    server = PrivateServer.start()
    try:
        yield server
    finally:
        server.close()


def run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr


async def test_a_dump_restored_into_a_new_data_directory_rebuilds_the_same_read_models(
    api: httpx.AsyncClient,
    database_url: str,
    event_store: PostgresEventStore,
    pool: asyncpg.Pool,
    settings: Settings,
    private: PrivateServer,
    tmp_path: Path,
) -> None:
    # A running instance with a realistic history, its projections caught up.
    written = await load(event_store, seed=3, size=Size(teams=4, feedback=FEEDBACK, increments=120))
    head = await event_store.recorder.max_notification_id()
    async with pool.acquire() as conn:
        assert await wait_for_position(conn, head, all_projections(), within=120)
        original = await checksums(conn)
        original_events = await events_digest(conn)
    assert (await api.get("/readyz")).status_code == 200
    # Backed up while it runs, restored into a new data directory.
    dump = tmp_path / "loopline.dump"
    run(str(BIN / "pg_dump"), "--format=custom", f"--file={dump}", f"--dbname={database_url}")
    run(
        str(BIN / "pg_restore"),
        "--no-owner",
        "--exit-on-error",
        f"--dbname={private.dsn}",
        str(dump),
    )
    restored_settings = load_settings(
        {}, database_url=private.dsn, data_dir=tmp_path / "restored", admin_token="unused"
    )
    restored = await create_pool(restored_settings, private.dsn)
    try:
        async with restored.acquire() as conn:
            # The same events, and the restored read models as they were.
            assert await events_digest(conn) == original_events
            assert await checksums(conn) == original
        # Rebuilt from the restored events, the read models are the original's again.
        assert await rebuilt(restored_settings, private.dsn, restored) == original
        # And the restored store goes on numbering after the original's head.
        mapper = create_mapper()
        team = Team(slug="after-restore", name="After", formed_at=datetime.now(UTC))
        stored = [mapper.to_stored_event(e) for e in team.collect_events()]
        [position] = await AsyncpgRecorder(restored).append(stored)
        assert position > head
    finally:
        await restored.close()
    record(
        "backup_restore",
        events_checked=written,
        read_model_tables_compared=len(original),
        dump_bytes=dump.stat().st_size,
        lost=0,
    )
