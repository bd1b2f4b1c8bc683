"""Server configuration, read from `FCSBE_*` environment variables (and an optional `.env`).

One settings object is built at start-up and passed to `create_app`; nothing reads the
environment anywhere else, so tests build apps with explicit settings and no global state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "settings_markdown"]


class Settings(BaseSettings):
    """Every knob of the server. The operator guide's configuration table is generated from it."""

    model_config = SettingsConfigDict(
        env_prefix="FCSBE_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default="sqlite+aiosqlite:///./fcsbe.db",
        description="SQLAlchemy async URL. Default: embedded SQLite file in the working folder. "
        "Production: postgresql+asyncpg://user:password@host:5432/fcsbe",
    )
    auto_migrate: bool | None = Field(
        default=None,
        description="Apply migrations at start-up. Default: on for SQLite (embedded), off for "
        "PostgreSQL, where the server refuses to start on an unmigrated database.",
    )
    db_pool_size: int = Field(
        default=20, ge=1, le=500, description="Connections kept open (PostgreSQL)."
    )
    db_max_overflow: int = Field(
        default=20, ge=0, le=500, description="Extra connections allowed under bursts."
    )
    db_pool_timeout_s: float = Field(
        default=5.0, gt=0, description="Wait for a free connection before answering 503."
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="How long an SQLite writer waits for the write lock."
    )
    public_base_url: str | None = Field(
        default=None,
        description="Base URL the server is reached at (used in discovery documents). Default: "
        "taken from each request.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted; larger gets 413."
    )
    idempotency_ttl_s: int = Field(
        default=86_400,
        ge=3600,
        description="How long an Idempotency-Key and its stored response are kept (at least 24 h "
        "by default; a retry after that is treated as a new request).",
    )
    data_dir: Path = Field(
        default=Path("var"),
        description="Folder for key material kept out of the database (signing keys, "
        "pseudonymisation keys).",
    )
    workers_enabled: bool = Field(
        default=True,
        description="Run the background loops (event-log chaining, notification delivery, FS "
        "decisions, simulator). Tests turn them off and call the steps directly.",
    )
    event_log_chain_interval_s: float = Field(
        default=0.2, gt=0, description="How often pending event-log entries are chained."
    )
    notification_interval_s: float = Field(
        default=0.05,
        gt=0,
        description="How often the notification worker looks for due notifications when idle.",
    )
    notification_loops: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Delivery loops per replica; while one waits on the network or a commit, "
        "another claims what was just committed (claims never overlap).",
    )
    notification_batch_size: int = Field(
        default=200, ge=1, le=5000, description="Notifications claimed per delivery step."
    )
    notification_concurrency: int = Field(
        default=64, ge=1, le=1000, description="Webhook requests in flight at once per replica."
    )
    notification_timeout_s: float = Field(
        default=10.0, gt=0, le=60, description="Timeout of one webhook request (connect + answer)."
    )
    notification_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a claimed notification is reserved for one worker; a worker that "
        "dies holding it is replaced after this. Must exceed the request timeout.",
    )
    notification_backoff_initial_s: float = Field(
        default=2.0, gt=0, description="Delay before the first retry; doubles on each failure."
    )
    notification_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="Longest delay between two attempts (before jitter)."
    )
    notification_retry_after_max_s: float = Field(
        default=3600.0,
        gt=0,
        description="Longest `Retry-After` from a receiver that is honoured as given.",
    )
    notification_retry_window_s: float = Field(
        default=86_400.0,
        ge=86_400.0,
        description="How long a notification is retried after its first attempt before it is "
        "dead-lettered (at least 24 h).",
    )
    webhook_secret_overlap_s: int = Field(
        default=86_400,
        ge=0,
        description="After a webhook secret rotation, how long deliveries also carry a signature "
        "made with the previous secret.",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Allow callback URLs on loopback addresses (local development and tests "
        "only; private, link-local and metadata addresses stay refused).",
    )
    webhook_require_https: bool = Field(
        default=True, description="Refuse callback URLs that are not HTTPS."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the fcsbe loggers."
    )
    log_json: bool = Field(
        default=True, description="Write logs as JSON lines (one object per line)."
    )

    @model_validator(mode="after")
    def _lease_outlives_request(self) -> Settings:
        if self.notification_lease_s <= self.notification_timeout_s:
            raise ValueError("notification_lease_s must exceed notification_timeout_s")
        return self

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded backend, which migrates itself and runs one writer."""
        return self.database_url.startswith("sqlite")

    @property
    def migrate_on_start(self) -> bool:
        """Whether `serve` applies migrations itself (see `auto_migrate`)."""
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate


def settings_markdown() -> str:
    """The configuration table of docs/configuration.md, generated from this model."""
    lines = [
        "| Environment variable | Default | Description |",
        "|---|---|---|",
    ]
    for name, info in Settings.model_fields.items():
        default = info.default
        shown = "(none)" if default is None else f"`{default}`"
        description = (info.description or "").replace("|", "\\|")
        lines.append(f"| `FCSBE_{name.upper()}` | {shown} | {description} |")
    return "\n".join(lines) + "\n"
