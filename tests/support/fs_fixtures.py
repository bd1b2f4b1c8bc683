"""Registry, contract and session rows for FS tests of layers below the registry import.

The documents are the model's own shapes; scenario tests use the real import and enrolment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.model import ChargingStation, ContractProposal, Site
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.contracts import ContractRow, ContractTargetRow
from fcsbe.server.storage.infrastructure import (
    ChargingStationRow,
    ConsentRow,
    EvseRow,
    EvSessionRow,
    SiteRow,
)

__all__ = ["evse_id", "make_contract", "make_site", "plug_ev", "request_body"]


def evse_id(site: str, n: int) -> str:
    return f"NL*FCS*E{site.upper()}{n:03d}*1"


def _site_doc(site_id: str, grid_state: str) -> dict[str, Any]:
    doc = dict(Site.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    doc.update(site_id=site_id, grid_state=grid_state, cs_ids=[f"cs-{site_id}"])
    return Site.model_validate(doc).model_dump(mode="json")


def _station_doc(site_id: str, evses: int, charge_w: float, discharge_w: float) -> dict[str, Any]:
    base = ChargingStation.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    template = base["evses"][0]
    cs_id = f"cs-{site_id}"
    doc = {
        **base,
        "cs_id": cs_id,
        "site_id": site_id,
        "evses": [
            {
                **template,
                "evse_id": evse_id(site_id, n),
                "ocpp_evse_id": n,
                "max_charge_power_w": charge_w,
                "max_discharge_power_w": discharge_w,
                "min_charge_power_w": 0.0,
            }
            for n in range(1, evses + 1)
        ],
        "conformity_evidence": [{**base["conformity_evidence"][0], "subject_id": cs_id}],
    }
    return ChargingStation.model_validate(doc).model_dump(mode="json")


async def make_site(
    factory: async_sessionmaker[AsyncSession],
    site_id: str = "s1",
    *,
    evses: int = 2,
    charge_w: float = 50_000.0,
    discharge_w: float = 25_000.0,
    grid_state: str = "ON_GRID",
) -> list[str]:
    """A DC site with one station of `evses` EVSEs; returns their ids."""
    now = utcnow()
    station = _station_doc(site_id, evses, charge_w, discharge_w)
    async with factory() as session:
        session.add(
            SiteRow(
                site_id=site_id,
                configuration_type=2,
                grid_state=grid_state,
                energy_community_id=None,
                data=_site_doc(site_id, grid_state),
                updated_at=now,
            )
        )
        await session.flush()
        session.add(
            ChargingStationRow(
                cs_id=station["cs_id"], site_id=site_id, data=station, updated_at=now
            )
        )
        await session.flush()
        for evse in station["evses"]:
            session.add(
                EvseRow(
                    evse_id=evse["evse_id"],
                    cs_id=station["cs_id"],
                    site_id=site_id,
                    current_type="DC",
                    max_charge_w=charge_w,
                    max_discharge_w=discharge_w,
                    data=evse,
                    updated_at=now,
                )
            )
        await session.commit()
    return [e["evse_id"] for e in station["evses"]]


async def plug_ev(
    factory: async_sessionmaker[AsyncSession],
    evse: str,
    *,
    v2g_consent: bool = True,
    bidirectional: bool = True,
) -> str:
    """Connect a (bidirectional) EV with a consent; returns the session reference."""
    now = utcnow()
    ref = f"sess-{evse.replace('*', '-')}"
    async with factory() as session:
        session.add(
            ConsentRow(
                consent_id=f"consent-{ref}",
                subject_ref=f"subj-{ref}",
                scope=["V1G", "V2G"] if v2g_consent else ["V1G"],
                limits={},
                given_at=now,
            )
        )
        session.add(
            EvSessionRow(
                session_ref=ref,
                evse_id=evse,
                subject_ref=f"subj-{ref}",
                connected_at=now,
                departure_time=now + timedelta(hours=8),
                consent_id=f"consent-{ref}",
                data={"ev": {"bidirectional": bidirectional, "onboard_inverter": False}},
            )
        )
        await session.commit()
    return ref


async def make_contract(
    factory: async_sessionmaker[AsyncSession],
    fo_party_id: str,
    fsc_id: str = "fsc-1",
    *,
    targets: list[tuple[str, str]] | None = None,
    fs_types: list[str] | None = None,
    status: str = "ACTIVE",
    max_power_w: float = 1_000_000.0,
    max_activations: int = 100,
    level: str = "EVSE",
    categories: list[str] | None = None,
    fallback: dict[str, Any] | None = None,
) -> None:
    """An FSC row in force from yesterday for 30 days (`categories`: personal data shared;
    `fallback`: its fallback terms)."""
    now = utcnow()
    targets = targets or [("SITE", "s1")]
    fs_types = fs_types or [
        "SETPOINT",
        "RESERVE",
        "FFR",
        "DROOP",
        "CONGESTION",
        "DEMAND_RESPONSE",
        "DYNAMIC_PRICE",
    ]
    example = dict(ContractProposal.model_config["json_schema_extra"]["examples"][0])  # type: ignore[index]
    example.update(
        fsc_id=fsc_id,
        valid_from=(now - timedelta(days=1)).isoformat(),
        valid_to=(now + timedelta(days=30)).isoformat(),
        fs_types=fs_types,
        targets=[{"level": level, "id": tid} for level, tid in targets],
        commitments=[
            {
                "fs_type": t,
                "direction": "BOTH",
                "max_power_w": max_power_w,
                "min_duration_s": 0,
                "max_activations_per_day": max_activations,
            }
            for t in fs_types
        ],
        signature_required=False,
        data_sharing_level=level,
    )
    if categories is not None:
        example["personal_data"] = {"categories": categories, "legal_basis": "CONTRACT"}
    if fallback is not None:
        example["fallback"] = fallback
    proposal = ContractProposal.model_validate(example)
    terms = proposal.to_terms().model_dump(mode="json")
    async with factory() as session:
        row = ContractRow(
            fo_party_id=fo_party_id,
            fsc_id=fsc_id,
            provider_party_id="NL-ABC",
            status=status,
            revision=1,
            valid_from=now - timedelta(days=1),
            valid_to=now + timedelta(days=30),
            fs_types=fs_types,
            data_sharing_level=level,
            signature_required=False,
            terms=terms,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        for level, tid in targets:
            session.add(ContractTargetRow(contract_id=row.id, level=level, target_id=tid))
        await session.commit()


def request_body(
    fs_id: str,
    *,
    fsc_id: str = "fsc-1",
    p_w: float = 40_000.0,
    targets: list[tuple[str, str]] | None = None,
    start_in: timedelta = timedelta(hours=1),
    minimum_acceptance_pct: float = 50.0,
    parameters: dict[str, Any] | None = None,
    fs_type: str = "SETPOINT",
    now: datetime | None = None,
    duration: timedelta = timedelta(hours=1),
) -> dict[str, Any]:
    """A SETPOINT request (or another type with `parameters`) starting `start_in` from now."""
    start = (now or utcnow()) + start_in
    return {
        "fs_id": fs_id,
        "fsc_id": fsc_id,
        "fs_type": fs_type,
        "targets": [{"level": level, "id": tid} for level, tid in (targets or [("SITE", "s1")])],
        "window": {"start": start.isoformat(), "end": (start + duration).isoformat()},
        "minimum_acceptance_pct": minimum_acceptance_pct,
        "parameters": parameters
        or {
            "fs_type": "SETPOINT",
            "resolution_s": int(duration.total_seconds()),
            "periods": [{"start_offset_s": 0, "p_w": p_w}],
        },
    }
