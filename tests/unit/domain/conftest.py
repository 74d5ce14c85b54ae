from __future__ import annotations

import pytest

from domain.memory import InMemoryEventStore


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()
