"""The shared information model of the FO <-> FCSBE interface (pydantic v2, no I/O).

Import wire types from here (`from fcsbe.model import FlexibilityServiceRequest`); the submodules
are one per concept and each lists its public names in its `__all__`, which this package gathers
(so a new name is exported by adding it to its module's `__all__`, nowhere else). Sign convention
(stated once): active power is positive for import (charging) and negative for export
(discharging), see `SIGN_CONVENTION`. Models the server receives are `InputModel` (unknown fields
refused), models it only sends are `OutputModel`.
"""

from __future__ import annotations

from types import ModuleType

from fcsbe.model import (
    admin,
    base,
    baselines,
    canonical,
    capabilities,
    common,
    contract,
    contract_terms,
    credentials,
    crypto,
    discovery,
    disputes,
    enums,
    ev_users,
    event_log,
    flexibility,
    fs_control_payloads,
    fs_enums,
    fs_payloads,
    grid_enums,
    infrastructure,
    measurements,
    merkle,
    notification_data,
    notifications,
    paging,
    party,
    party_enums,
    problem,
    proofs,
    record_enums,
    record_parts,
    records,
    registry,
    sessions,
    signatures,
    station_commands,
    webhook_signatures,
    webhooks,
)
from fcsbe.model.admin import *
from fcsbe.model.base import *
from fcsbe.model.baselines import *
from fcsbe.model.canonical import *
from fcsbe.model.capabilities import *
from fcsbe.model.common import *
from fcsbe.model.contract import *
from fcsbe.model.contract_terms import *
from fcsbe.model.credentials import *
from fcsbe.model.crypto import *
from fcsbe.model.discovery import *
from fcsbe.model.disputes import *
from fcsbe.model.enums import *
from fcsbe.model.ev_users import *
from fcsbe.model.event_log import *
from fcsbe.model.flexibility import *
from fcsbe.model.fs_control_payloads import *
from fcsbe.model.fs_enums import *
from fcsbe.model.fs_payloads import *
from fcsbe.model.grid_enums import *
from fcsbe.model.infrastructure import *
from fcsbe.model.measurements import *
from fcsbe.model.merkle import *
from fcsbe.model.notification_data import *
from fcsbe.model.notifications import *
from fcsbe.model.paging import *
from fcsbe.model.party import *
from fcsbe.model.party_enums import *
from fcsbe.model.problem import *
from fcsbe.model.proofs import *
from fcsbe.model.record_enums import *
from fcsbe.model.record_parts import *
from fcsbe.model.records import *
from fcsbe.model.registry import *
from fcsbe.model.sessions import *
from fcsbe.model.signatures import *
from fcsbe.model.station_commands import *
from fcsbe.model.webhook_signatures import *
from fcsbe.model.webhooks import *


def _export_order(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps an `__all__` in: SCREAMING_CASE, CamelCase, then the rest."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


def _exports(*modules: ModuleType) -> list[str]:
    """The union of the modules' `__all__`, each name once (facades repeat their parts' names)."""
    names: set[str] = set()
    for module in modules:
        names.update(module.__all__)
    return sorted(names, key=_export_order)


__all__ = _exports(
    admin,
    base,
    baselines,
    canonical,
    capabilities,
    common,
    contract,
    contract_terms,
    credentials,
    crypto,
    discovery,
    disputes,
    enums,
    ev_users,
    event_log,
    flexibility,
    fs_control_payloads,
    fs_enums,
    fs_payloads,
    grid_enums,
    infrastructure,
    measurements,
    merkle,
    notification_data,
    notifications,
    paging,
    party,
    party_enums,
    problem,
    proofs,
    record_enums,
    record_parts,
    records,
    registry,
    sessions,
    signatures,
    station_commands,
    webhook_signatures,
    webhooks,
)
