"""Shipped migrations are append-only: each file's SHA-256 is pinned here.

If this fails because you edited a shipped migration, revert the edit and add a
new numbered migration instead. If you added a migration, pin its hash below.
"""

from __future__ import annotations

from migrations.runner import shipped_migrations

PINNED = {
    "0001_event_store.sql": "2ae38a7b17b2d75215bf6de4c0d21075117b43dfa98ba2d6ded31a4433592a86",
    "0002_projections.sql": "101ae34237fdd952cced269bc36937e08e63f6a915653560e2ee27676931e04a",
    "0003_api_tokens.sql": "d2522324967136e5ae47af83ea95306287ab748a65169eb953dd787844f5ac0d",
    "0004_webhooks.sql": "7472edd79f9676a57f90f6217b0f52916661eb7110863a55709a7d1486134c78",
}


def test_every_shipped_migration_is_pinned_and_unchanged() -> None:
    shipped = {m.filename: m.checksum for m in shipped_migrations()}
    assert shipped.keys() >= PINNED.keys(), "a shipped migration was deleted or renamed"
    assert shipped.keys() <= PINNED.keys(), "pin the hash of the new migration in this test"
    changed = sorted(name for name, checksum in shipped.items() if PINNED[name] != checksum)
    assert changed == [], f"shipped migrations are append-only; changed: {changed}"
