"""Loopline's settings: the one place that reads the environment.

Every setting has an environment variable; CLI flags override them by passing
keyword overrides to `load_settings`. Nothing else in Loopline reads `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import platformdirs


class SettingsError(ValueError):
    """Raised when an environment variable or flag holds an unusable value."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Typed, documented configuration (see the README's configuration table)."""

    database_url: str | None = None
    """DATABASE_URL: a PostgreSQL server to use. Unset: an embedded server in data_dir."""
    data_dir: Path = msgspec.field(
        default_factory=lambda: Path(platformdirs.user_data_dir("loopline", appauthor=False))
    )
    """LOOPLINE_DATA_DIR: where the embedded database, token file and logs live."""
    host: str = "127.0.0.1"
    """LOOPLINE_HOST: address the HTTP API listens on."""
    port: int = 8000
    """LOOPLINE_PORT: port the HTTP API listens on."""
    admin_token: str | None = None
    """LOOPLINE_ADMIN_TOKEN: bootstrap admin token; unset: generated and written to data_dir."""
    pool_min_size: int = 2
    """LOOPLINE_POOL_MIN_SIZE: connections the pool keeps open."""
    pool_max_size: int = 10
    """LOOPLINE_POOL_MAX_SIZE: most connections the pool opens."""
    lock_timeout: float = 5.0
    """LOOPLINE_LOCK_TIMEOUT: seconds an append waits for the events table lock before retrying."""
    append_retries: int = 5
    """LOOPLINE_APPEND_RETRIES: attempts for an append that timed out waiting for the lock."""
    idle_in_transaction_timeout: float = 60.0
    """LOOPLINE_IDLE_IN_TRANSACTION_TIMEOUT: seconds before PostgreSQL ends a stuck session."""
    embedded_restart_timeout: float = 60.0
    """LOOPLINE_EMBEDDED_RESTART_TIMEOUT: seconds `up` tries to start its embedded PostgreSQL
    again after it died, before it gives up and exits."""
    poll_interval: float = 1.0
    """LOOPLINE_POLL_INTERVAL: seconds between polls when LISTEN/NOTIFY is silent."""
    projection_batch_size: int = 2000
    """LOOPLINE_PROJECTION_BATCH_SIZE: most events a projection applies in one transaction."""
    run_projections: bool = True
    """LOOPLINE_RUN_PROJECTIONS: run the projections inside `up`/`serve` (false when separate
    `loopline project` workers run them)."""
    run_webhook_workers: bool = True
    """LOOPLINE_RUN_WEBHOOK_WORKERS: run the webhook mapper and the notification follower and
    senders inside `up`/`serve` (false where separate `loopline work` processes run them)."""
    worker_pool_size: int = 4
    """LOOPLINE_WORKER_POOL_SIZE: connections the webhook workers open, apart from the API's."""
    rate_limit_webhooks: int = 600
    """LOOPLINE_RATE_LIMIT_WEBHOOKS: webhook deliveries one client address may post a minute
    (0: no limit)."""
    rate_limit_failed_auth: int = 30
    """LOOPLINE_RATE_LIMIT_FAILED_AUTH: requests with an unknown or revoked token one client
    address, or one token, may make a minute before all its requests answer 429 (0: no limit)."""
    log_level: str = "info"
    """LOOPLINE_LOG_LEVEL: debug, info, warning or error."""
    log_format: Literal["console", "json"] = "console"
    """LOOPLINE_LOG_FORMAT: `console` (lines for people) or `json` (one JSON object a line,
    for servers' log collectors)."""
    webhook_map_delay: float = 0.0
    """LOOPLINE_WEBHOOK_MAP_DELAY: seconds a stored webhook delivery waits before it is mapped."""
    webhook_max_attempts: int = 8
    """LOOPLINE_WEBHOOK_MAX_ATTEMPTS: attempts at mapping a delivery or sending a notification
    before it stays failed."""
    webhook_retry_backoff: float = 2.0
    """LOOPLINE_WEBHOOK_RETRY_BACKOFF: seconds before the first retry; each retry doubles it."""
    outbound_timeout: float = 10.0
    """LOOPLINE_OUTBOUND_TIMEOUT: seconds an outbound notification may take, all told."""
    outbound_allow_private: bool = False
    """LOOPLINE_OUTBOUND_ALLOW_PRIVATE: allow notification targets on private, loopback and
    link-local addresses."""

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def token_file(self) -> Path:
        return self.data_dir / "admin-token"

    @property
    def instance_file(self) -> Path:
        return self.data_dir / "instance.json"


ENVIRONMENT: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "data_dir": "LOOPLINE_DATA_DIR",
    "host": "LOOPLINE_HOST",
    "port": "LOOPLINE_PORT",
    "admin_token": "LOOPLINE_ADMIN_TOKEN",
    "pool_min_size": "LOOPLINE_POOL_MIN_SIZE",
    "pool_max_size": "LOOPLINE_POOL_MAX_SIZE",
    "lock_timeout": "LOOPLINE_LOCK_TIMEOUT",
    "append_retries": "LOOPLINE_APPEND_RETRIES",
    "idle_in_transaction_timeout": "LOOPLINE_IDLE_IN_TRANSACTION_TIMEOUT",
    "embedded_restart_timeout": "LOOPLINE_EMBEDDED_RESTART_TIMEOUT",
    "poll_interval": "LOOPLINE_POLL_INTERVAL",
    "projection_batch_size": "LOOPLINE_PROJECTION_BATCH_SIZE",
    "run_projections": "LOOPLINE_RUN_PROJECTIONS",
    "run_webhook_workers": "LOOPLINE_RUN_WEBHOOK_WORKERS",
    "worker_pool_size": "LOOPLINE_WORKER_POOL_SIZE",
    "rate_limit_webhooks": "LOOPLINE_RATE_LIMIT_WEBHOOKS",
    "rate_limit_failed_auth": "LOOPLINE_RATE_LIMIT_FAILED_AUTH",
    "log_level": "LOOPLINE_LOG_LEVEL",
    "log_format": "LOOPLINE_LOG_FORMAT",
    "webhook_map_delay": "LOOPLINE_WEBHOOK_MAP_DELAY",
    "webhook_max_attempts": "LOOPLINE_WEBHOOK_MAX_ATTEMPTS",
    "webhook_retry_backoff": "LOOPLINE_WEBHOOK_RETRY_BACKOFF",
    "outbound_timeout": "LOOPLINE_OUTBOUND_TIMEOUT",
    "outbound_allow_private": "LOOPLINE_OUTBOUND_ALLOW_PRIVATE",
}
"""Setting name → environment variable."""


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with non-None `overrides` (CLI flags) taking precedence."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    for name, variable in ENVIRONMENT.items():
        value = env.get(variable)
        if value not in (None, ""):
            raw[name] = value
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(raw.get("data_dir"), str):
        # msgspec does not turn text into a Path; the environment only holds text.
        raw["data_dir"] = Path(raw["data_dir"]).expanduser()
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as error:
        raise SettingsError(_explain(str(error))) from None
    if settings.pool_min_size < 1 or settings.pool_max_size < settings.pool_min_size:
        raise SettingsError(
            "pool sizes: LOOPLINE_POOL_MIN_SIZE must be >= 1 and <= LOOPLINE_POOL_MAX_SIZE"
        )
    if settings.worker_pool_size < 1:
        raise SettingsError("LOOPLINE_WORKER_POOL_SIZE must be >= 1")
    if settings.rate_limit_webhooks < 0 or settings.rate_limit_failed_auth < 0:
        raise SettingsError("rate limits must be >= 0 (0: no limit)")
    if not 0 < settings.port < 65536:
        raise SettingsError(f"LOOPLINE_PORT: {settings.port} is not a TCP port")
    return settings


def _explain(message: str) -> str:
    # msgspec says "... - at `$.port`"; name the environment variable instead.
    for name, variable in ENVIRONMENT.items():
        message = message.replace(f"`$.{name}`", f"{variable} / --{name.replace('_', '-')}")
    return message
