"""Initial schema: parties, enrolments, contracts, registry, FS, idempotency, outbox, event log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSON documents: JSONB on PostgreSQL, JSON text on SQLite.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("consent_id", sa.String(length=128), nullable=False),
        sa.Column("subject_ref", sa.String(length=128), nullable=False),
        sa.Column("scope", JSON_DOC, nullable=False),
        sa.Column("limits", JSON_DOC, nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("consent_id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_subject_ref"), ["subject_ref"], unique=False)

    op.create_table(
        "enrolment_tokens",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("fo_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("spent_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name=op.f("pk_enrolment_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrolment_tokens_token_hash")),
    )
    op.create_table(
        "event_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("party_id", sa.String(length=128), nullable=True),
        sa.Column("fs_id", sa.String(length=128), nullable=True),
        sa.Column("object_ref", sa.String(length=256), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("payload_digest", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_event_log_hash")),
        sa.UniqueConstraint("seq", name=op.f("uq_event_log_seq")),
    )
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.create_index("ix_event_log_fs_id", ["fs_id"], unique=False)
        batch_op.create_index("ix_event_log_party_id", ["party_id", "seq"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("party_id", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_headers", JSON_DOC, nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("party_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("fo_party_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("fs_id", sa.String(length=128), nullable=True),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_outbox_notification_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_outbox_party_seq", ["fo_party_id", "id"], unique=False)

    op.create_table(
        "parties",
        sa.Column("party_id", sa.String(length=128), nullable=False),
        sa.Column("roles", JSON_DOC, nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("identifiers", JSON_DOC, nullable=False),
        sa.Column("jwks", JSON_DOC, nullable=False),
        sa.Column("is_server", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("party_id", name=op.f("pk_parties")),
    )
    op.create_table(
        "sites",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("configuration_type", sa.Integer(), nullable=False),
        sa.Column("grid_state", sa.String(length=16), nullable=False),
        sa.Column("energy_community_id", sa.String(length=128), nullable=True),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_sites")),
    )
    op.create_table(
        "charging_stations",
        sa.Column("cs_id", sa.String(length=128), nullable=False),
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.site_id"], name=op.f("fk_charging_stations_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("cs_id", name=op.f("pk_charging_stations")),
    )
    with op.batch_alter_table("charging_stations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charging_stations_site_id"), ["site_id"], unique=False)

    op.create_table(
        "contracts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fo_party_id", sa.String(length=128), nullable=False),
        sa.Column("fsc_id", sa.String(length=128), nullable=False),
        sa.Column("provider_party_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fs_types", JSON_DOC, nullable=False),
        sa.Column("data_sharing_level", sa.String(length=16), nullable=False),
        sa.Column("signature_required", sa.Boolean(), nullable=False),
        sa.Column("terms", JSON_DOC, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fo_party_id"], ["parties.party_id"], name=op.f("fk_contracts_fo_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("fo_party_id", "fsc_id", name=op.f("uq_contracts_fo_party_id")),
    )
    op.create_table(
        "enrolments",
        sa.Column("enrolment_id", sa.String(length=128), nullable=False),
        sa.Column("fo_party_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scopes", JSON_DOC, nullable=False),
        sa.Column("callback_base_url", sa.String(length=2048), nullable=True),
        sa.Column("signing_key", JSON_DOC, nullable=True),
        sa.Column("heartbeat_interval_s", sa.Integer(), nullable=False),
        sa.Column("offline_timeout_s", sa.Integer(), nullable=False),
        sa.Column("fallback_policy", sa.String(length=32), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offline_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["fo_party_id"], ["parties.party_id"], name=op.f("fk_enrolments_fo_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("enrolment_id", name=op.f("pk_enrolments")),
    )
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrolments_fo_party_id"), ["fo_party_id"], unique=False
        )

    op.create_table(
        "contract_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("terms", JSON_DOC, nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_contract_revisions_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_revisions")),
        sa.UniqueConstraint(
            "contract_id", "revision", name=op.f("uq_contract_revisions_contract_id")
        ),
    )
    op.create_table(
        "contract_targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_contract_targets_contract_id_contracts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_targets")),
        sa.UniqueConstraint(
            "contract_id", "level", "target_id", name=op.f("uq_contract_targets_contract_id")
        ),
    )
    with op.batch_alter_table("contract_targets", schema=None) as batch_op:
        batch_op.create_index("ix_contract_targets_target_id", ["target_id"], unique=False)

    op.create_table(
        "credentials",
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("party_id", sa.String(length=128), nullable=False),
        sa.Column("enrolment_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["enrolments.enrolment_id"],
            name=op.f("fk_credentials_enrolment_id_enrolments"),
        ),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_credentials_token_hash")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index("ix_credentials_enrolment_id", ["enrolment_id"], unique=False)

    op.create_table(
        "evses",
        sa.Column("evse_id", sa.String(length=128), nullable=False),
        sa.Column("cs_id", sa.String(length=128), nullable=False),
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("current_type", sa.String(length=2), nullable=False),
        sa.Column("max_charge_w", sa.Double(), nullable=False),
        sa.Column("max_discharge_w", sa.Double(), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cs_id"], ["charging_stations.cs_id"], name=op.f("fk_evses_cs_id_charging_stations")
        ),
        sa.PrimaryKeyConstraint("evse_id", name=op.f("pk_evses")),
    )
    with op.batch_alter_table("evses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evses_cs_id"), ["cs_id"], unique=False)
        batch_op.create_index("ix_evses_site_id", ["site_id"], unique=False)

    op.create_table(
        "flexibility_services",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fo_party_id", sa.String(length=128), nullable=False),
        sa.Column("fs_id", sa.String(length=128), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=True),
        sa.Column("fs_type", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("committed_w", sa.Double(), nullable=True),
        sa.Column("request", JSON_DOC, nullable=False),
        sa.Column("response", JSON_DOC, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_flexibility_services_contract_id_contracts"),
        ),
        sa.ForeignKeyConstraint(
            ["fo_party_id"],
            ["parties.party_id"],
            name=op.f("fk_flexibility_services_fo_party_id_parties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flexibility_services")),
        sa.UniqueConstraint(
            "fo_party_id", "fs_id", name=op.f("uq_flexibility_services_fo_party_id")
        ),
    )
    with op.batch_alter_table("flexibility_services", schema=None) as batch_op:
        batch_op.create_index("ix_flexibility_services_state", ["state"], unique=False)

    op.create_table(
        "ev_sessions",
        sa.Column("session_ref", sa.String(length=128), nullable=False),
        sa.Column("evse_id", sa.String(length=128), nullable=False),
        sa.Column("subject_ref", sa.String(length=128), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("departure_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("home_party_id", sa.String(length=128), nullable=True),
        sa.Column("visited_party_id", sa.String(length=128), nullable=True),
        sa.Column("consent_id", sa.String(length=128), nullable=True),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.ForeignKeyConstraint(
            ["evse_id"], ["evses.evse_id"], name=op.f("fk_ev_sessions_evse_id_evses")
        ),
        sa.PrimaryKeyConstraint("session_ref", name=op.f("pk_ev_sessions")),
    )
    with op.batch_alter_table("ev_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_ev_sessions_evse_id", ["evse_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ev_sessions_subject_ref"), ["subject_ref"], unique=False
        )

    op.create_table(
        "fs_targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fs_pk", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=128), nullable=False),
        sa.Column("committed_w", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["fs_pk"],
            ["flexibility_services.id"],
            name=op.f("fk_fs_targets_fs_pk_flexibility_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fs_targets")),
    )
    with op.batch_alter_table("fs_targets", schema=None) as batch_op:
        batch_op.create_index("ix_fs_targets_target_id", ["target_id"], unique=False)

    op.create_table(
        "fs_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fs_pk", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["fs_pk"],
            ["flexibility_services.id"],
            name=op.f("fk_fs_transitions_fs_pk_flexibility_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fs_transitions")),
    )
    with op.batch_alter_table("fs_transitions", schema=None) as batch_op:
        batch_op.create_index("ix_fs_transitions_fs_pk", ["fs_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fs_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_fs_transitions_fs_pk")

    op.drop_table("fs_transitions")
    with op.batch_alter_table("fs_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_fs_targets_target_id")

    op.drop_table("fs_targets")
    with op.batch_alter_table("ev_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ev_sessions_subject_ref"))
        batch_op.drop_index("ix_ev_sessions_evse_id")

    op.drop_table("ev_sessions")
    with op.batch_alter_table("flexibility_services", schema=None) as batch_op:
        batch_op.drop_index("ix_flexibility_services_state")

    op.drop_table("flexibility_services")
    with op.batch_alter_table("evses", schema=None) as batch_op:
        batch_op.drop_index("ix_evses_site_id")
        batch_op.drop_index(batch_op.f("ix_evses_cs_id"))

    op.drop_table("evses")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_credentials_enrolment_id")

    op.drop_table("credentials")
    with op.batch_alter_table("contract_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_contract_targets_target_id")

    op.drop_table("contract_targets")
    op.drop_table("contract_revisions")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolments_fo_party_id"))

    op.drop_table("enrolments")
    op.drop_table("contracts")
    with op.batch_alter_table("charging_stations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charging_stations_site_id"))

    op.drop_table("charging_stations")
    op.drop_table("sites")
    op.drop_table("parties")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_party_seq")
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_expires_at")

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("event_log", schema=None) as batch_op:
        batch_op.drop_index("ix_event_log_party_id")
        batch_op.drop_index("ix_event_log_fs_id")

    op.drop_table("event_log")
    op.drop_table("enrolment_tokens")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_subject_ref"))

    op.drop_table("consents")
