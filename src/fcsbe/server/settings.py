"""Server configuration, read from `FCSBE_*` environment variables (and an optional `.env`).

One settings object is built at start-up and passed to `create_app`; nothing reads the
environment anywhere else, so tests build apps with explicit settings and no global state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fcsbe.server.notifications.settings import FEED_REPLAY_WINDOW_DAYS, DeliverySettings

__all__ = [
    "FEED_REPLAY_WINDOW_DAYS",
    "SIMULATOR_SCENARIOS",
    "Settings",
    "SimulatorScenario",
    "settings_markdown",
]

SimulatorScenario = Literal[
    "demo",
    "uc-1.1",
    "uc-1.1-s2",
    "uc-1.2",
    "uc-1.2-s2",
    "uc-1.3",
    "uc-1.4",
    "uc-1.4-s2",
    "uc-1.5",
    "uc-1.6",
    "uc-1.6-off-grid",
    "uc-1.7",
    "large",
]
SIMULATOR_SCENARIOS: tuple[str, ...] = get_args(SimulatorScenario)
"""Names of the simulated fleets `FCSBE_SIMULATOR_SCENARIO` accepts."""


class Settings(DeliverySettings, BaseSettings):
    """Every knob of the server (notification delivery and retention in `DeliverySettings`).
    The operator guide's configuration table is generated from it."""

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
    request_body_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Time a client has to send its whole request body; a slower one gets 408. "
        "Bodies are read before any database work starts, so a slow client never holds a "
        "connection.",
    )
    request_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Time a client has from opening a connection (or beginning its next request) "
        "to the end of its request head, a charger's WebSocket handshake included; a slower one "
        "is disconnected, so idle or trickling sockets cannot exhaust the server.",
    )
    readiness_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=30,
        description="`/readyz` answers 503 when no database connection can be had (or no "
        "query answers) within this time: the pool is exhausted or stalled (under a legitimate "
        "load a connection is free well within it).",
    )
    worker_stall_s: float = Field(
        default=60.0,
        gt=0,
        description="`/readyz` answers 503 naming a background loop whose current step has "
        "run longer than this, or longer than 3 of its intervals, whichever is more.",
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
    event_log_tree_head_interval_s: float = Field(
        default=1.0,
        ge=0,
        description="Least time between two signed tree heads of the event log (a proof of work "
        "that needs a newer head gets one at once).",
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
    worker_idle_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="On PostgreSQL, how long an idle loop (decisions, event log, proofs of work, "
        "notification delivery, station commands) waits between polls: new work wakes it at "
        "once through `LISTEN fcsbe_work`, so this bounds only the delay of work that nobody "
        "announced (a retry coming due). SQLite polls at each loop's own interval.",
    )
    station_command_interval_s: float = Field(
        default=0.2,
        gt=0,
        description="How often the replica that holds the stations looks for station commands "
        "queued by other replicas (without `LISTEN`, as on SQLite).",
    )
    station_adapter: Literal["simulator", "ocpp", "none"] | None = Field(
        default=None,
        description="What speaks to the charging stations: `simulator` (the built-in simulated "
        "fleet, the quick start's default), `ocpp` (real chargers connect over OCPP-J to "
        "`ws(s)://HOST:PORT/ocpp/{station_id}`, see docs/station-adapters.md) or `none` (a "
        "registry without stations). Unset: `simulator`, or `none` when "
        "`FCSBE_SIMULATOR_ENABLED=false`.",
    )
    simulator_enabled: bool = Field(
        default=True,
        description="Deprecated alias of `FCSBE_STATION_ADAPTER` (`false` means `none` when "
        "`FCSBE_STATION_ADAPTER` is unset): run the built-in station simulator, with the "
        "registry of its scenario loaded at start.",
    )
    ocpp_registry: Literal["imported", "scenario"] = Field(
        default="imported",
        description="With `FCSBE_STATION_ADAPTER=ocpp`: the stations that may connect are the "
        "registry imported with `fcsbe admin stations import` (`imported`), or the registry of "
        "the simulator scenario `FCSBE_SIMULATOR_SCENARIO` loaded at start (`scenario`: a "
        "try-out with `fcsbe stations simulate`).",
    )
    ocpp_unknown_stations: Literal["refuse", "pending"] = Field(
        default="refuse",
        description="A station with a provisioned password whose id is not in the registry: "
        "refused at the handshake (`refuse`), or admitted with its BootNotification answered "
        "`Pending` until the registry names it (`pending`).",
    )
    ocpp_password_file: Path | None = Field(
        default=None,
        description="If set, at start every registry station without an OCPP password gets a "
        "fresh one, written with the others issued this way to this JSON file "
        "`{station_id: password}` (mode 0600) that `fcsbe stations simulate --password-file` "
        "reads. For try-outs; in production use `fcsbe admin stations set-password`.",
    )
    ocpp_call_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="How long the server waits for a station's answer to a call "
        "(SetChargingProfile, GetVariables, ...) before it counts as refused.",
    )
    ocpp_heartbeat_interval_s: int = Field(
        default=300,
        ge=10,
        le=86_400,
        description="Heartbeat interval told to stations in the BootNotification answer.",
    )
    ocpp_login_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Station password checks (scrypt, tens to hundreds of ms of CPU each) run "
        "at once per replica, each in a thread; more logins wait. A station logging in again "
        "with the password it last used is recognised without a check.",
    )
    ocpp_login_failures_per_station: int = Field(
        default=10,
        ge=0,
        le=100_000,
        description="Failed logins per station id within a sliding minute after which that "
        "id's logins are refused with 429 before any password check (0: no limit).",
    )
    ocpp_login_failures_per_source: int = Field(
        default=100,
        ge=0,
        le=1_000_000,
        description="Failed logins per source address within a sliding minute after which "
        "that address's logins are refused with 429 before any password check (0: no limit; "
        "behind a proxy every station shares the proxy's address).",
    )
    ocpp_max_frame_bytes: int = Field(
        default=65_536,
        ge=4096,
        le=16_777_216,
        description="Largest OCPP-J frame accepted from a station; a larger one closes the "
        "connection (code 1009). `fcsbe serve` also gives it to uvicorn as `ws_max_size`.",
    )
    ocpp_lease_s: float = Field(
        default=60.0,
        ge=5,
        le=3600,
        description="How long a replica's hold on a connected station lasts without renewal "
        "(renewed every third of it): after a replica dies, its stations' commands wait at "
        "most this long for the replica they reconnect to.",
    )
    simulator_scenario: SimulatorScenario = Field(
        default="demo",
        description="Simulated fleet: `demo` (home, depot, car park, EV service station, energy "
        "community), one per use case `uc-1.1` ... `uc-1.7` (`uc-1.1-s2`: one home CS; "
        "`uc-1.2-s2`/`uc-1.4-s2`: home CSP in control; `uc-1.6-off-grid`), or `large`.",
    )
    simulator_seed: int = Field(default=0, ge=0, description="Seed of the simulated fleet.")
    simulator_fleet_size: int = Field(
        default=10_000, ge=1, le=1_000_000, description="EVSEs of the `large` scenario."
    )
    simulator_step_s: float = Field(
        default=1.0, gt=0, le=60, description="Simulator tick, in seconds of real time."
    )
    simulator_meter_resolution_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Period of the simulated meters' readings. Shorter gives records of short "
        "FS more data (`sh scripts/dev.sh serve` uses 5 s for the demo); longer loads a `large` "
        "fleet less.",
    )
    station_sync_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often EV sessions and station events are stored from the adapter.",
    )
    execution_interval_s: float = Field(
        default=1.0, gt=0, description="How often running FS are checked against their plan."
    )
    telemetry_interval_s: float = Field(
        default=2.0, gt=0, description="How often meter readings are collected from the stations."
    )
    record_delay_s: float = Field(
        default=30.0,
        ge=0,
        description="How long after an FS ends its detailed service record waits for late meter "
        "readings before it is made.",
    )
    dispute_answer_days: float = Field(
        default=10.0,
        gt=0,
        le=365,
        description="The CSO answers a dispute of a record within this many days of its opening; "
        "past it the server escalates the dispute.",
    )
    dispute_response_days: float = Field(
        default=10.0,
        gt=0,
        le=365,
        description="The FO accepts or escalates the CSO's answer within this many days; past it "
        "the answer is deemed accepted. Keep both deadlines well inside "
        "`FCSBE_RETENTION_METER_READINGS_DAYS`: a record revision needs the stored readings.",
    )
    fs_deviation_tolerance_pct: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="A running SETPOINT FS is out of tolerance when its measured power differs "
        "from the ordered power by more than this share of the ordered power (of "
        "`FCSBE_FS_DEVIATION_FLOOR_W` when that is larger): FS_DEVIATION.",
    )
    fs_deviation_floor_w: float = Field(
        default=1_000.0,
        gt=0,
        description="Smallest power the deviation tolerance is a share of, so that an FS ordered "
        "to about 0 W is not out of tolerance for a few watts.",
    )
    fs_deviation_sustain_s: float = Field(
        default=60.0,
        ge=0,
        le=3_600,
        description="How long an FS must stay out of tolerance before FS_DEVIATION is sent (once "
        "per episode).",
    )
    server_party_id: str = Field(
        default="FCSBE",
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:*\-]*$",
        description="Party id of the CSO/CSP behind this server, used when the embedded "
        "server initialises its own party on first start (`fcsbe admin party init` sets it "
        "explicitly).",
    )
    server_party_name: str = Field(
        default="Charging station operator",
        min_length=1,
        max_length=200,
        description="Legal name of that party (first start of the embedded server).",
    )
    server_party_country: str = Field(
        default="NL",
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 country of that party (first start of the embedded server).",
    )
    auto_init_party: bool | None = Field(
        default=None,
        description="Create the server's party and signing key at start-up when none exists. "
        "Default: on for SQLite (embedded), off for PostgreSQL, where the operator runs "
        "`fcsbe admin party init`.",
    )
    enrolment_token_ttl_s: int = Field(
        default=7 * 86_400,
        ge=60,
        le=90 * 86_400,
        description="Default lifetime of a one-time enrolment token.",
    )
    ev_user_invite_ttl_s: int = Field(
        default=7 * 86_400,
        ge=60,
        le=90 * 86_400,
        description="Default lifetime of an EV user's one-time personal link (`/app/#invite=`).",
    )
    ev_user_token_ttl_s: int = Field(
        default=180 * 86_400,
        ge=3600,
        le=400 * 86_400,
        description="Lifetime of the EV user's bearer token the phone app receives for a link.",
    )
    credential_rotation_overlap_s: int = Field(
        default=86_400,
        ge=0,
        le=30 * 86_400,
        description="After a rotation (access token or FO signing key) the previous one keeps "
        "working this long.",
    )
    access_token_ttl_days: float = Field(
        default=90.0,
        gt=0,
        le=3_650,
        description="Lifetime of an FO access token, from its issue (enrolment or rotation); "
        "an expired token is refused with 401 `token-expired`. The FO rotates it with "
        "`PUT /v1/enrolments/self/credentials`.",
    )
    credential_expiry_warning_days: float = Field(
        default=14.0,
        ge=0,
        le=365,
        description="CREDENTIAL_EXPIRING is sent to the FO (once) this long before its newest "
        "access token expires; 0 sends none.",
    )
    heartbeat_interval_s: int = Field(
        default=60, ge=1, le=86_400, description="Heartbeat period agreed at enrolment."
    )
    offline_timeout_s: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description="Silence of an enrolled FO after which it is offline (COMM_LOST).",
    )
    offline_check_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often enrolments are checked for missed heartbeats (and running FS "
        "for their contract's fallback).",
    )
    contract_expiry_interval_s: float = Field(
        default=30.0, gt=0, description="How often contracts past their end are closed."
    )
    signature_max_skew_s: int = Field(
        default=300,
        ge=1,
        le=3_600,
        description="Allowed difference between a signed request's `iat` and the server clock; "
        "a signature id (`jti`) is remembered this long to refuse replays.",
    )
    credential_check_ttl_s: int = Field(
        default=900,
        ge=1,
        le=86_400,
        description="Longest time a credentials-check verdict may be relied upon.",
    )
    allow_loopback_callbacks: bool = Field(
        default=False,
        description="Accept http://127.0.0.1 / http://localhost callback URLs (local "
        "development only; private and metadata addresses stay refused).",
    )
    fast_accept: bool = Field(
        default=True,
        description="Serve `POST /v1/flexibility-services` through its plain route "
        "(`api/fs_accept.py`: the same checks and answers without FastAPI's per-request "
        "dependency solving, a third of the accept's CPU); false serves it through FastAPI, "
        "to rule the plain route out when diagnosing.",
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Serve Prometheus metrics at `GET /metrics` (text format).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="If set, `GET /metrics` needs `Authorization: Bearer <this token>`. Without "
        "it, keep /metrics off the public network (it carries no party data). Empty means unset "
        "(docker-compose.yml passes it through as `${FCSBE_METRICS_TOKEN:-}`).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the fcsbe loggers."
    )
    log_json: bool = Field(
        default=True, description="Write logs as JSON lines (one object per line)."
    )

    @field_validator("metrics_token", mode="before")
    @classmethod
    def _blank_token_is_none(cls, value: object) -> object:
        """An empty token is no token: `Bearer ` with nothing after it must not open /metrics."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def adapter_kind(self) -> Literal["simulator", "ocpp", "none"]:
        """The station adapter in force (`station_adapter`, else the deprecated
        `simulator_enabled`)."""
        if self.station_adapter is not None:
            return self.station_adapter
        return "simulator" if self.simulator_enabled else "none"

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded backend, which migrates itself and runs one writer."""
        return self.database_url.startswith("sqlite")

    @property
    def migrate_on_start(self) -> bool:
        """Whether `serve` applies migrations itself (see `auto_migrate`)."""
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    @property
    def init_party_on_start(self) -> bool:
        """Whether start-up creates the server party when none exists (see `auto_init_party`)."""
        return self.is_sqlite if self.auto_init_party is None else self.auto_init_party


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
