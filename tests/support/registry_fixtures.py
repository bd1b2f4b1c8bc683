"""A small charging infrastructure written straight into the registry tables.

The registry's own loading comes with the infrastructure module; these rows hold the same
documents (`Site`, `ChargingStation`, `Evse` in the `data` columns; the connected EV's technical
data in `ev_sessions.data["ev"]`) so that checks over the registry can be tested now.

    site-ams (config 2)
      cs-dc  DC, off-board converter, EN 50549-1 certified (CS scope)
        EVSE_DC   NL*CSO*E0001*1  150 kW charge / 50 kW discharge (DC_BPT); EV: bidirectional
      cs-ac  AC, on-board converter, no grid-code certificate of its own
        EVSE_AC1  NL*CSO*E0002*1  AC_BPT_DER, 11 kW both ways; EV with a certified inverter
        EVSE_AC2  NL*CSO*E0002*2  AC_BPT_DER, 11 kW both ways; EV without on-board inverter
    site-other (config 4)
      cs-home  EVSE_HOME NL*CSO*E0009*1, AC, no EV connected
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fcsbe.model import ChargingStation, ConformityEvidence, Evse, Site
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.infrastructure import ChargingStationRow, EvseRow, EvSessionRow, SiteRow

__all__ = [
    "EVSE_AC1",
    "EVSE_AC2",
    "EVSE_DC",
    "EVSE_HOME",
    "SESSION_AC1",
    "SESSION_AC2",
    "SESSION_DC",
    "Registry",
    "add_registry",
    "evidence",
]

EVSE_DC = "NL*CSO*E0001*1"
EVSE_AC1 = "NL*CSO*E0002*1"
EVSE_AC2 = "NL*CSO*E0002*2"
EVSE_HOME = "NL*CSO*E0009*1"
SESSION_DC = "ps_dc_4Kq2vX7mT4rB"
SESSION_AC1 = "ps_ac1_9Kq2vX7mT4r"
SESSION_AC2 = "ps_ac2_8nL1pQ3zW6y"
CERT_END = datetime(2035, 1, 1, tzinfo=utcnow().tzinfo)


def evidence(
    standard: str, scope: str, subject: str, *, valid_to: datetime = CERT_END
) -> dict[str, Any]:
    """A conformity certificate as JSON."""
    return ConformityEvidence.model_validate(
        {
            "standard": standard,
            "scope": scope,
            "subject_id": subject,
            "certificate_id": f"CERT-{subject}-{standard}",
            "issuer": "DEKRA Certification B.V.",
            "valid_to": valid_to,
        }
    ).model_dump(mode="json")


def _site(site_id: str, configuration_type: int, cs_ids: list[str]) -> Site:
    return Site.model_validate(
        {
            "site_id": site_id,
            "configuration_type": configuration_type,
            "location": {"country": "NL"},
            "grid_connection": {
                "voltage_level": "LV",
                "nominal_voltage_v": 400.0,
                "phases": 3,
                "import_limit_w": 250000.0,
                "export_limit_w": 100000.0,
            },
            "cs_ids": cs_ids,
        }
    )


def _evse(evse_id: str, ocpp_id: int, *, dc: bool, discharge_w: float) -> Evse:
    modes = ["DC", "DC_BPT"] if dc else ["AC_three_phase", "AC_BPT", "AC_BPT_DER"]
    return Evse.model_validate(
        {
            "evse_id": evse_id,
            "ocpp_evse_id": ocpp_id,
            "current_type": "DC" if dc else "AC",
            "phases": None if dc else 3,
            "min_charge_power_w": 1000.0,
            "max_charge_power_w": 150000.0 if dc else 11000.0,
            "max_discharge_power_w": discharge_w,
            "energy_transfer_modes": modes,
            "converter_location": "OFF_BOARD" if dc else "ON_BOARD",
            "connectors": [
                {
                    "connector_id": 1,
                    "connector_type": "cCCS2" if dc else "cType2",
                    "max_power_w": 150000.0 if dc else 11000.0,
                }
            ],
        }
    )


def _station(cs_id: str, site_id: str, evses: list[Evse], certs: list[dict[str, Any]]) -> Any:
    return ChargingStation.model_validate(
        {
            "cs_id": cs_id,
            "site_id": site_id,
            "vendor": "Alpitronic" if "dc" in cs_id else "Wallbox",
            "model": "HYC150" if "dc" in cs_id else "Quasar 2",
            "ocpp_version": "OCPP_2_1",
            "configuration_type": 2,
            "evses": [evse.model_dump(mode="json") for evse in evses],
            "conformity_evidence": certs,
        }
    )


def _ev(*, bidirectional: bool, inverter: bool, certs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ev": {
            "bidirectional": bidirectional,
            "onboard_inverter": inverter,
            "max_charge_w": 11000.0,
            "max_discharge_w": 11000.0 if bidirectional else None,
            "conformity": certs,
        }
    }


@dataclass(frozen=True)
class Registry:
    """Ids of what `add_registry` wrote."""

    site: str = "site-ams"
    other_site: str = "site-other"


async def _add(
    session: AsyncSession,
    now: datetime,
    home_party_id: str | None,
    visited_party_id: str | None,
    fs_controller: str | None,
) -> None:
    dc = _evse(EVSE_DC, 1, dc=True, discharge_w=50000.0)
    ac1 = _evse(EVSE_AC1, 1, dc=False, discharge_w=11000.0)
    ac2 = _evse(EVSE_AC2, 2, dc=False, discharge_w=11000.0)
    home = _evse(EVSE_HOME, 1, dc=False, discharge_w=0.0)
    stations = [
        (
            "site-ams",
            _station("cs-dc", "site-ams", [dc], [evidence("EN 50549-1:2019", "CS", "cs-dc")]),
        ),
        ("site-ams", _station("cs-ac", "site-ams", [ac1, ac2], [])),
        ("site-other", _station("cs-home", "site-other", [home], [])),
    ]
    for site in (_site("site-ams", 2, ["cs-dc", "cs-ac"]), _site("site-other", 4, ["cs-home"])):
        session.add(
            SiteRow(
                site_id=site.site_id,
                configuration_type=int(site.configuration_type),
                grid_state="ON_GRID",
                energy_community_id=None,
                data=site.model_dump(mode="json"),
                updated_at=now,
            )
        )
    await session.flush()
    for site_id, station in stations:
        session.add(
            ChargingStationRow(
                cs_id=station.cs_id,
                site_id=site_id,
                data=station.model_dump(mode="json"),
                updated_at=now,
            )
        )
    await session.flush()
    for site_id, station in stations:
        for evse in station.evses:
            session.add(
                EvseRow(
                    evse_id=evse.evse_id,
                    cs_id=station.cs_id,
                    site_id=site_id,
                    current_type=evse.current_type.value,
                    max_charge_w=evse.max_charge_power_w,
                    max_discharge_w=evse.max_discharge_power_w,
                    data=evse.model_dump(mode="json"),
                    updated_at=now,
                )
            )
    await session.flush()
    sessions = [
        (SESSION_DC, EVSE_DC, _ev(bidirectional=True, inverter=False, certs=[])),
        (
            SESSION_AC1,
            EVSE_AC1,
            _ev(
                bidirectional=True,
                inverter=True,
                certs=[evidence("EN 50549-1", "EV_MODEL", "Renault 5 E-Tech")],
            ),
        ),
        (SESSION_AC2, EVSE_AC2, _ev(bidirectional=True, inverter=False, certs=[])),
    ]
    for ref, evse_id, data in sessions:
        session.add(
            EvSessionRow(
                session_ref=ref,
                evse_id=evse_id,
                subject_ref=None,
                connected_at=now - timedelta(minutes=30),
                departure_time=now + timedelta(hours=5),
                disconnected_at=None,
                home_party_id=home_party_id,
                visited_party_id=visited_party_id,
                fs_controller=fs_controller,
                consent_id=None,
                # As the station sync stores it: the EvSession document plus the EV's data.
                data={
                    "session_ref": ref,
                    "evse_id": evse_id,
                    "connected_at": (now - timedelta(minutes=30)).isoformat(),
                    "departure_time": (now + timedelta(hours=5)).isoformat(),
                    **data,
                },
            )
        )


async def add_registry(
    factory: async_sessionmaker[AsyncSession],
    *,
    home_party_id: str | None = None,
    visited_party_id: str | None = None,
    fs_controller: str | None = None,
) -> Registry:
    """Write the registry above; sessions belong to customers of `home_party_id` and, when
    roaming, are controlled by `fs_controller` (HOME or VISITED)."""
    async with factory() as session:
        await _add(session, utcnow(), home_party_id, visited_party_id, fs_controller)
        await session.commit()
    return Registry()
