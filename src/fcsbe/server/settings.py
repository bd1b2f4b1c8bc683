"""Server configuration, read from `FCSBE_*` environment variables (and an optional `.env`).

One settings object is built at start-up and passed to `create_app`; nothing reads the
environment anywhere else, so tests build apps with explicit settings and no global state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    db_connect_timeout_s: float = Field(
        default=3.0,
        gt=0,
        description="Give up opening a database connection after this long (PostgreSQL); the "
        "request then answers 503 + Retry-After.",
    )
    db_command_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="Give up on a database statement after this long (PostgreSQL), so a hung "
        "database cannot hold requests forever.",
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
    rate_limit_per_s: float = Field(
        default=2000.0,
        ge=0,
        description="Requests per second allowed to each authenticated party, and to each client "
        "IP without credentials, per replica (token bucket in memory). 0 disables the limit.",
    )
    rate_limit_burst: int = Field(
        default=4000,
        ge=1,
        description="Requests a caller may send at once above the rate (the bucket size).",
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
    fs_decision_timeout_s: int = Field(
        default=60,
        ge=1,
        le=86_400,
        description="Longest time between receiving an FS request and deciding it (the "
        "`response_deadline` when the FO asks for none or a later one).",
    )
    decision_interval_s: float = Field(
        default=0.05, gt=0, description="How often the decision loop looks for new FS requests."
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Serve Prometheus metrics at `GET /metrics` (text format).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="If set, `GET /metrics` needs `Authorization: Bearer <this token>`. Without "
        "it, keep /metrics off the public network (it carries no party data).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the fcsbe loggers."
    )
    log_json: bool = Field(
        default=True, description="Write logs as JSON lines (one object per line)."
    )

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
