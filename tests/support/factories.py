"""Test data written straight to the tables (for tests of layers below the enrolment flow).

Scenario tests use the real enrolment flow through the client instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.model import FO_SCOPES, ContractAmendment, ContractTerms
from fcsbe.server.security.tokens import (
    ACCESS_TOKEN_PREFIX,
    OPERATOR_TOKEN_PREFIX,
    hash_secret,
    new_secret,
)
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.contracts import ContractRow, ContractTargetRow
from fcsbe.server.storage.parties import CredentialRow, EnrolmentRow, PartyRow

__all__ = ["make_contract", "make_fo", "make_operator"]


async def make_fo(
    factory: async_sessionmaker[AsyncSession],
    party_id: str = "FO-A",
    *,
    revoked: bool = False,
    expired: bool = False,
    enrolment_status: str = "ACTIVE",
    scopes: list[str] | None = None,
) -> str:
    """An enrolled FO party with one access token; returns the token."""
    token = new_secret(ACCESS_TOKEN_PREFIX)
    now = utcnow()
    async with factory() as session:
        session.add(
            PartyRow(
                party_id=party_id,
                roles=["FO"],
                legal_name=f"{party_id} Aggregation",
                country="NL",
                identifiers={},
                jwks={"keys": []},
                created_at=now,
            )
        )
        await session.flush()
        session.add(
            EnrolmentRow(
                enrolment_id=f"enr-{party_id}",
                fo_party_id=party_id,
                status=enrolment_status,
                scopes=list(FO_SCOPES) if scopes is None else scopes,
                callback_base_url=None,
                signing_key=None,
                heartbeat_interval_s=60,
                offline_timeout_s=300,
                fallback_policy="REVERT_UNMANAGED",
                created_at=now,
            )
        )
        await session.flush()
        session.add(
            CredentialRow(
                credential_id=f"cred-{party_id}",
                token_hash=hash_secret(token),
                role="FO",
                party_id=party_id,
                enrolment_id=f"enr-{party_id}",
                created_at=now,
                expires_at=now - timedelta(seconds=1) if expired else None,
                revoked_at=now if revoked else None,
            )
        )
        await session.commit()
    return token


async def make_operator(factory: async_sessionmaker[AsyncSession], party_id: str = "NL-CSO") -> str:
    """An operator credential for the server's own party; returns the token."""
    token = new_secret(OPERATOR_TOKEN_PREFIX)
    async with factory() as session:
        session.add(
            CredentialRow(
                credential_id=f"op-{party_id}",
                token_hash=hash_secret(token),
                role="OPERATOR",
                party_id=party_id,
                enrolment_id=None,
                created_at=utcnow(),
            )
        )
        await session.commit()
    return token


async def make_contract(
    factory: async_sessionmaker[AsyncSession],
    fo_party_id: str,
    fsc_id: str,
    targets: Sequence[tuple[str, str]],
    *,
    level: str = "EVSE",
    status: str = "ACTIVE",
    provider_party_id: str = "NL-CSO",
    fs_types: Sequence[str] = ("SETPOINT", "DROOP", "CONGESTION"),
    categories: Sequence[str] = ("SESSION_TIMES", "ENERGY_REQUEST"),
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> None:
    """A contract row with its targets, written directly (for layers below the contract flow)."""
    now = utcnow()
    start = valid_from or now - timedelta(days=1)
    end = valid_to or now + timedelta(days=365)
    example = ContractAmendment.model_json_schema()["examples"][0]
    terms = ContractTerms.model_validate(
        {
            **example,
            "valid_from": start.isoformat(),
            "valid_to": end.isoformat(),
            "fs_types": list(fs_types),
            "commitments": [],
            "targets": [{"level": lvl, "id": target_id} for lvl, target_id in targets],
            "data_sharing_level": level,
            "personal_data": {"categories": list(categories), "legal_basis": "CONTRACT"},
        }
    )
    async with factory() as session:
        row = ContractRow(
            fo_party_id=fo_party_id,
            fsc_id=fsc_id,
            provider_party_id=provider_party_id,
            status=status,
            revision=1,
            valid_from=start,
            valid_to=end,
            fs_types=list(fs_types),
            data_sharing_level=level,
            signature_required=False,
            terms=terms.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        for lvl, target_id in targets:
            session.add(ContractTargetRow(contract_id=row.id, level=lvl, target_id=target_id))
        await session.commit()
