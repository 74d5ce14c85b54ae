"""Named dependency providers, requested by handlers by parameter name."""

from __future__ import annotations

import asyncpg
from litestar.datastructures import State

from infra.settings import Settings


def provide_pool(state: State) -> asyncpg.Pool:
    """The asyncpg pool the lifespan opened."""
    pool: asyncpg.Pool = state.pool
    return pool


def provide_settings(state: State) -> Settings:
    """The settings the app was created with."""
    settings: Settings = state.settings
    return settings
