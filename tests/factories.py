"""Test data written straight to the tables (for tests of layers below the enrolment flow).

Scenario tests use the real enrolment flow through the client instead.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.model import FO_SCOPES
from fcsbe.server.security.tokens import (
    ACCESS_TOKEN_PREFIX,
    OPERATOR_TOKEN_PREFIX,
    hash_secret,
    new_secret,
)
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.parties import CredentialRow, EnrolmentRow, PartyRow

__all__ = ["make_fo", "make_operator"]


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
