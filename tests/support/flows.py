"""The enrolment flow and contract bodies for tests that drive the real server.

Scenario tests call these through the real client; lower-level tests use them to get enrolled
parties quickly. Nothing here writes to tables directly except `init_server` (the operator's
own `fcsbe admin party init` step, which has no HTTP route by design).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import (
    ContractAmendment,
    ContractProposal,
    EnrolmentResult,
    Party,
    PartyRole,
    generate_signing_key,
)
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.services.enrolments.parties import create_operator_token, init_server_party
from fcsbe.server.storage.base import utcnow

__all__ = [
    "PROVIDER",
    "Fo",
    "amendment",
    "asgi_client",
    "enrol_fo",
    "fo_party",
    "init_server",
    "proposal",
    "terms",
]

PROVIDER = "NL-CSO"


async def _no_sleep(_seconds: float) -> None:
    return None


def asgi_client(app: FastAPI, **options: Any) -> FcsbeClient:
    """A real client talking to the in-process app (close it, or use `async with`)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return FcsbeClient(
        "http://fcsbe.test",
        transport=transport,
        retry=RetryPolicy(max_attempts=2),
        sleep=_no_sleep,
        **options,
    )


async def init_server(app: FastAPI, party_id: str = PROVIDER) -> str:
    """`fcsbe admin party init`: the server party and its key; returns an operator token."""
    settings = app.state.settings
    async with app.state.session_factory() as session:
        await init_server_party(
            session,
            party_id=party_id,
            legal_name="CSO Charging N.V.",
            country="NL",
            roles=[PartyRole.CSO],
            keys=ServerKeys.load_or_create(settings.data_dir),
            now=utcnow(),
        )
        issued = await create_operator_token(session, now=utcnow())
        await session.commit()
    return issued.token


def fo_party(party_id: str) -> Party:
    """An aggregator's party."""
    return Party(
        party_id=party_id, roles=[PartyRole.FO], legal_name=f"{party_id} B.V.", country="NL"
    )


class Fo:
    """An enrolled aggregator: its client (signing with its key), key and enrolment."""

    def __init__(self, client: FcsbeClient, key: dict[str, Any], result: EnrolmentResult) -> None:
        self.client = client
        self.key = key
        self.result = result

    @property
    def party_id(self) -> str:
        return self.result.enrolment.fo_party_id

    @property
    def token(self) -> str:
        token = self.client.token
        assert token is not None
        return token


async def enrol_fo(
    app: FastAPI, operator_token: str, party_id: str, *, scopes: list[str] | None = None
) -> Fo:
    """The whole UC 3.1 flow: the operator issues a token, the FO enrols with the client."""
    async with asgi_client(app, token=operator_token) as operator:
        issued = await operator.admin.create_enrolment_token(f"{party_id} B.V.", scopes=scopes)
    key = generate_signing_key()
    client = asgi_client(app, signing_key=key)
    result = await client.enrolments.enrol(
        issued.token,
        party=fo_party(party_id),
        callback_base_url=f"https://{party_id.lower()}.example.com/fcsbe",
    )
    return Fo(client, key, result)


def terms(
    targets: list[dict[str, str]],
    *,
    fs_types: tuple[str, ...] = ("SETPOINT", "DROOP"),
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    signature_required: bool = False,
    data_sharing_level: str = "EVSE",
) -> dict[str, Any]:
    """Contract terms as JSON (the model's example, adjusted)."""
    now = utcnow().replace(microsecond=0)
    start = valid_from or now - timedelta(days=1)
    end = valid_to or now + timedelta(days=30)
    return {
        "valid_from": start.isoformat(),
        "valid_to": end.isoformat(),
        "fs_types": list(fs_types),
        "targets": targets,
        "commitments": [
            {
                "fs_type": fs_types[0],
                "direction": "BOTH",
                "max_power_w": 100000.0,
                "availability_windows": None,
                "min_duration_s": 900,
                "max_activations_per_day": 4,
            }
        ],
        "performance": {
            "response_time_s": 30.0,
            "full_activation_time_s": 300.0,
            "tolerance_pct": 10.0,
            "min_delivery_pct": 80.0,
        },
        "baseline_method": "METER_BEFORE_ACTIVATION",
        "remuneration": {
            "availability_price_per_mw_h": 12.5,
            "activation_price_per_mwh": 95.0,
            "penalty_per_mwh": 150.0,
            "currency": "EUR",
        },
        "data_sharing_level": data_sharing_level,
        "personal_data": {"categories": [], "legal_basis": "CONTRACT"},
        "retention_days": 730,
        "signature_required": signature_required,
        "fallback": {"policy": "REVERT_UNMANAGED", "offline_timeout_s": 300},
    }


def proposal(
    fsc_id: str,
    targets: list[dict[str, str]],
    *,
    provider: str = PROVIDER,
    holder_role: str = "CSO",
    holder_party_id: str | None = None,
    **options: Any,
) -> ContractProposal:
    """A contract proposal to the server's party."""
    return ContractProposal.model_validate(
        {
            "fsc_id": fsc_id,
            "provider_party_id": provider,
            "holder_role": holder_role,
            "holder_party_id": holder_party_id,
            **terms(targets, **options),
        }
    )


def amendment(targets: list[dict[str, str]], **options: Any) -> ContractAmendment:
    """New terms for `contracts.amend`."""
    return ContractAmendment.model_validate(terms(targets, **options))
