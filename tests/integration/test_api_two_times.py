"""Two times over HTTP: `as_of` answers an item as it stood in the world, `known_at` what
Loopline had recorded (issue 14, part 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from domain import services as s
from infra.eventstore import PostgresEventStore
from tests.api_helpers import ok

RECEIVED = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return RECEIVED + timedelta(days=n)


async def test_imported_history_answers_as_of_the_world_and_known_at_recording(
    api: httpx.AsyncClient, event_store: PostgresEventStore
) -> None:
    # History is imported today: received on Nov 6, triaged on Nov 8, decided on Nov 10.
    before_import = datetime.now(UTC)
    await s.form_team(event_store, slug="billing", name="Billing", formed_at=day(-30))
    fb = await s.receive_feedback(
        event_store, channel="email", text="Invoices", received_at=RECEIVED
    )
    await s.triage_feedback(event_store, fb.id, team="billing", triaged_at=day(2))
    dec = await s.propose_decision(
        event_store,
        team="billing",
        title="Clearer invoices",
        rationale="calls",
        feedback=[fb.id],
        proposed_at=day(3),
    )
    await s.accept_decision(event_store, dec.id, decided_at=day(4))

    # As of Nov 12 the item was planned under the accepted decision,
    then = ok(await api.get(f"/api/feedback/{fb.key}", params={"as_of": day(6).isoformat()}))
    assert then["item"]["status"] == "planned"
    assert [h["event"] for h in then["history"]] == ["Received", "Triaged", "Planned"]
    assert then["history"][1]["happened_at"] == day(2).isoformat().replace("+00:00", "Z")
    # as of Nov 7 it was new,
    early = ok(await api.get(f"/api/feedback/{fb.key}", params={"as_of": day(1).isoformat()}))
    assert early["item"]["status"] == "new"
    # and before Nov 6 it did not exist: a 404 naming its key.
    missing = await api.get(f"/api/feedback/{fb.key}", params={"as_of": day(-1).isoformat()})
    assert missing.status_code == 404
    assert fb.key in missing.json()["detail"]
    # The decision likewise: proposed on Nov 9, accepted from Nov 10.
    path = f"/api/decisions/{dec.key}"
    proposed = ok(await api.get(path, params={"as_of": day(3.5).isoformat()}))
    assert proposed["decision"]["status"] == "proposed"
    assert ok(await api.get(path, params={"as_of": day(6).isoformat()}))["decision"]["status"] == (
        "accepted"
    )

    # Known at a time before the import, Loopline had recorded nothing of it.
    unknown = await api.get(
        f"/api/feedback/{fb.key}", params={"known_at": before_import.isoformat()}
    )
    assert unknown.status_code == 404
    assert fb.key in unknown.json()["detail"]
    known = ok(
        await api.get(f"/api/feedback/{fb.key}", params={"known_at": datetime.now(UTC).isoformat()})
    )
    assert known["item"]["status"] == "planned"
    # A time without a zone is a 400 naming the parameter.
    naive = await api.get(f"/api/feedback/{fb.key}", params={"as_of": "2026-11-12T00:00:00"})
    assert naive.status_code == 400
    assert naive.json()["field"] == "as_of"
