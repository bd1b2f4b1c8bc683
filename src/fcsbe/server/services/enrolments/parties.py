"""The server's own party (the CSO/CSP behind this FCSBE) and its operator credentials.

`fcsbe admin party init` and the embedded server's first start both call `init_server_party`:
one party row with `is_server`, whose published JWKS is the public half of the server's signing
keys (the private key stays in a file under `data_dir`, never in the database). Operators get
bearer credentials with role OPERATOR on that party; each token is shown once, stored hashed.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import Party, PartyRole
from fcsbe.server.errors import Conflict, NotFound
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.security.tokens import OPERATOR_TOKEN_PREFIX, hash_secret, new_secret
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.settings import Settings
from fcsbe.server.storage.parties import CredentialRow, PartyRow, operator_credentials, server_party

__all__ = [
    "IssuedToken",
    "create_operator_token",
    "ensure_server_party",
    "init_server_party",
    "list_operator_tokens",
    "party_model",
    "publish_server_keys",
    "require_server_party",
    "revoke_operator_token",
]

PROVIDER_ROLES = frozenset(role for role in PartyRole if role is not PartyRole.FO)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A credential just made: its id, and the secret (to show once)."""

    credential_id: str
    token: str
    expires_at: datetime | None


def party_model(row: PartyRow) -> Party:
    """The wire form of a stored party."""
    return Party.model_validate(
        {
            "party_id": row.party_id,
            "roles": row.roles,
            "legal_name": row.legal_name,
            "country": row.country,
            "identifiers": row.identifiers,
            "jwks": row.jwks if row.jwks.get("keys") else None,
        }
    )


async def require_server_party(session: AsyncSession) -> PartyRow:
    """The server party, or a 409 telling the operator to initialise it."""
    party = await server_party(session)
    if party is None:
        raise Conflict(
            "The operator has not initialised this server's party yet (`fcsbe admin party init`).",
            slug="server-not-initialised",
        )
    return party


async def init_server_party(
    session: AsyncSession,
    *,
    party_id: str,
    legal_name: str,
    country: str,
    roles: Sequence[PartyRole],
    keys: ServerKeys,
    now: datetime,
) -> tuple[PartyRow, bool]:
    """Create the server party (or update its details); returns it and whether it was created.

    Its id cannot change once set: contracts and enrolments refer to it.
    """
    wrong = [role.value for role in roles if role not in PROVIDER_ROLES]
    if not roles or wrong:
        raise Conflict(
            f"The server party plays provider roles (CSO, CSP, ...), not {wrong or 'none'}.",
            slug="party-role-invalid",
        )
    existing = await server_party(session)
    if existing is not None and existing.party_id != party_id:
        raise Conflict(
            f"This server is already initialised as party {existing.party_id}; its id cannot "
            "change.",
            slug="server-party-exists",
        )
    if existing is None and await session.get(PartyRow, party_id) is not None:
        raise Conflict(f"Party id {party_id} belongs to an enrolled FO.", slug="party-id-taken")
    party = existing or PartyRow(
        party_id=party_id, identifiers={}, is_server=True, created_at=now, jwks={"keys": []}
    )
    party.legal_name = legal_name
    party.country = country
    party.roles = [role.value for role in roles]
    party.jwks = keys.public_jwks()
    if existing is None:
        session.add(party)
        await session.flush()  # later queries of this transaction must see it (no autoflush)
    await append_event(
        session,
        type="SERVER_PARTY_INITIALISED" if existing is None else "SERVER_PARTY_UPDATED",
        object_ref=f"party/{party_id}",
        summary=f"server party {party_id} ({', '.join(party.roles)}), signing key {keys.kid}",
        party_id=party_id,
        payload={"party_id": party_id, "roles": party.roles, "kid": keys.kid},
    )
    return party, existing is None


async def publish_server_keys(session: AsyncSession, keys: ServerKeys) -> PartyRow:
    """Publish the (rotated) server keys in the server party's JWKS."""
    party = await require_server_party(session)
    party.jwks = keys.public_jwks()
    await append_event(
        session,
        type="SERVER_KEY_ROTATED",
        object_ref=f"party/{party.party_id}",
        summary=f"server signing key rotated, active kid {keys.kid}",
        party_id=party.party_id,
        payload={"kid": keys.kid},
    )
    return party


async def create_operator_token(
    session: AsyncSession, *, now: datetime, ttl_s: int | None = None
) -> IssuedToken:
    """A new operator credential on the server party (the secret is returned once)."""
    party = await require_server_party(session)
    token = new_secret(OPERATOR_TOKEN_PREFIX)
    credential_id = "op_" + secrets.token_urlsafe(9)
    expires_at = now + timedelta(seconds=ttl_s) if ttl_s else None
    session.add(
        CredentialRow(
            credential_id=credential_id,
            token_hash=hash_secret(token),
            role="OPERATOR",
            party_id=party.party_id,
            enrolment_id=None,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await append_event(
        session,
        type="OPERATOR_TOKEN_CREATED",
        object_ref=f"credential/{credential_id}",
        summary="operator credential created",
        party_id=party.party_id,
    )
    return IssuedToken(credential_id, token, expires_at)


async def list_operator_tokens(session: AsyncSession) -> list[CredentialRow]:
    """The operator credentials (never their secrets)."""
    party = await require_server_party(session)
    return await operator_credentials(session, party.party_id)


async def revoke_operator_token(
    session: AsyncSession, credential_id: str, *, now: datetime
) -> CredentialRow:
    """Revoke one operator credential at once."""
    row = await session.get(CredentialRow, credential_id)
    if row is None or row.role != "OPERATOR":
        raise NotFound(f"No operator credential {credential_id}.", slug="credential-not-found")
    if row.revoked_at is None:
        row.revoked_at = now
        await append_event(
            session,
            type="OPERATOR_TOKEN_REVOKED",
            object_ref=f"credential/{credential_id}",
            summary="operator credential revoked",
            party_id=row.party_id,
        )
    return row


async def ensure_server_party(session: AsyncSession, settings: Settings, now: datetime) -> bool:
    """Create the server party from the settings when none exists (embedded first start).

    Returns whether it was created. The signing key is created in `data_dir` if missing.
    """
    if await server_party(session) is not None:
        return False
    keys = ServerKeys.load_or_create(settings.data_dir)
    await init_server_party(
        session,
        party_id=settings.server_party_id,
        legal_name=settings.server_party_name,
        country=settings.server_party_country,
        roles=[PartyRole.CSO],
        keys=keys,
        now=now,
    )
    return True
