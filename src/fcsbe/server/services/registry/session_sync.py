"""Storing EV sessions from what the stations report, under keyed pseudonyms.

`sync_sessions` reconciles the stored sessions with the adapter's list of connected EVs: new ones
are stored under keyed pseudonyms (never the station's session key or the EV user's token), ended
ones are closed, and each FO whose SESSION-level contract covers a session hears EV_CONNECTED /
EV_DISCONNECTED, with a personal field (the departure time) only when its contracts name the
field's category (`x-personal-data-category` marker). Live values are rounded (SoC to 1 %,
energies to 100 Wh): the FO needs no more, and rows then change only when something material
does. The stored document is the `EvSession` wire document plus an internal `ev` dict (what the
capability rules read as `EvTechnical`) and the `energy` exchanged so far.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    ConsentScope,
    EnergyRequest,
    EvConnectedData,
    EvModel,
    EvSession,
    EvuLimits,
    NotificationType,
    StateOfCharge,
    TargetStatus,
)
from fcsbe.server.adapters.base import StationSession
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.security.personal_data import category_fields
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.registry.sessions import session_covers
from fcsbe.server.services.registry.station_notices import availability_notice
from fcsbe.server.services.registry.target_notices import Place, notify_covering
from fcsbe.server.storage import ev_users as ev_store
from fcsbe.server.storage import sessions as store
from fcsbe.server.storage.infrastructure import ConsentRow, EvSessionRow
from fcsbe.server.storage.registry import load_ev_models, load_evses
from fcsbe.server.storage.visibility import covers_for

__all__ = ["session_document", "subjects_of", "sync_sessions"]

_MAX_WH = 1e9


def _wh(value: float | None) -> float | None:
    return None if value is None else round(value / 100.0) * 100.0


def _ev(reported: StationSession, model: EvModel | None) -> dict[str, Any]:
    """The internal EV dict the capability rules read (`EvTechnical`), from the registry's EV
    model when the station named one, else from what the station reported (no evidence)."""
    ev = reported.ev
    if model is None:
        return {
            "model_id": ev.model_id,
            "bidirectional": ev.bidirectional,
            "onboard_inverter": ev.onboard_inverter,
            "max_charge_w": ev.max_charge_w,
            "max_discharge_w": ev.max_discharge_w if ev.bidirectional else None,
            "conformity": [],
            "reported_standards": list(ev.conformity),
        }
    caps = [v for v in (ev.max_discharge_w, model.max_discharge_power_w) if v is not None]
    return {
        "model_id": model.ev_model_id,
        "bidirectional": model.bidirectional,
        "onboard_inverter": model.onboard_inverter,
        "max_charge_w": ev.max_charge_w or model.max_charge_power_w,
        "max_discharge_w": min(caps) if model.bidirectional and caps else None,
        "conformity": [e.model_dump(mode="json") for e in model.conformity_evidence],
        "reported_standards": list(ev.conformity),
    }


def _limits(reported: StationSession) -> EvuLimits:
    floor = min(reported.soc_floor_pct, reported.min_soc_at_departure_pct)
    if not reported.consent_v2g:
        to_grid = 0.0
    elif reported.max_energy_to_grid_wh is None:
        to_grid = min(_MAX_WH, reported.ev.battery_wh or _MAX_WH)
    else:
        to_grid = min(_MAX_WH, reported.max_energy_to_grid_wh)
    return EvuLimits(
        min_soc_at_departure_pct=reported.min_soc_at_departure_pct,
        soc_floor_pct=floor,
        max_energy_to_grid_wh=to_grid,
        max_discharge_power_w=reported.max_discharge_power_w,
    )


def session_document(
    reported: StationSession, session_ref: str, consent_id: str | None, model: EvModel | None
) -> dict[str, Any]:
    """The stored document: the `EvSession` wire fields plus internal `ev` and `energy`."""
    minimum = _wh(reported.min_energy_wh) or 0.0
    target = max(minimum, _wh(reported.target_energy_wh) or 0.0)
    v2x_min, v2x_max = _wh(reported.v2x_min_energy_wh), _wh(reported.v2x_max_energy_wh)
    if v2x_min is not None and v2x_max is not None:
        v2x_min = min(v2x_min, v2x_max)
    document = EvSession(
        session_ref=session_ref,
        evse_id=reported.evse_id,
        connected_at=reported.connected_at,
        departure_time=reported.departure_time,
        energy_request=EnergyRequest(
            target_energy_wh=target,
            min_energy_wh=minimum,
            max_energy_wh=max(target, _wh(reported.max_energy_wh) or 0.0),
            v2x_min_energy_wh=v2x_min,
            v2x_max_energy_wh=v2x_max,
            max_charge_power_w=reported.ev.max_charge_w,
            max_discharge_power_w=reported.ev.max_discharge_w if reported.consent_v2g else 0.0,
        ),
        soc=None
        if reported.soc_pct is None
        else StateOfCharge(
            current_pct=round(reported.soc_pct),
            target_pct=reported.target_soc_pct,
            floor_pct=min(reported.soc_floor_pct, reported.target_soc_pct or 100.0),
        ),
        evu_limits=_limits(reported),
        consent_ref=consent_id,
    ).model_dump(mode="json", exclude={"holders"})
    document["ev"] = _ev(reported, model)
    document["energy"] = {
        "imported_wh": _wh(reported.energy_imported_wh),
        "exported_wh": _wh(reported.energy_exported_wh),
    }
    return document


def _consent_scope(reported: StationSession) -> list[str]:
    scope = [ConsentScope.V1G.value] if reported.consent_v1g else []
    return scope + ([ConsentScope.V2G.value] if reported.consent_v2g else [])


def _sync_consent(
    db: AsyncSession,
    reported: StationSession,
    pseudonyms: Pseudonymizer,
    subject_ref: str,
    stored: ConsentRow | None,
    limits: dict[str, Any],
    now: datetime,
) -> str | None:
    """Create or update the consent the station reported; returns its id (None: no consent)."""
    scope = _consent_scope(reported)
    if stored is None:
        if not scope:
            return None
        db.add(
            ConsentRow(
                consent_id=pseudonyms.consent_id(reported.session_key),
                subject_ref=subject_ref,
                scope=scope,
                limits=limits,
                given_at=reported.connected_at,
            )
        )
        return pseudonyms.consent_id(reported.session_key)
    if stored.withdrawn_at is None and not scope:
        stored.withdrawn_at = now
    elif scope and (stored.scope != scope or stored.limits != limits):
        stored.scope, stored.limits, stored.withdrawn_at = scope, limits, None
    stored.subject_ref = subject_ref
    return stored.consent_id


_CATEGORY_FIELDS = {k: v.value for k, v in category_fields(EvConnectedData).items()}
"""Notification fields that carry personal data of a category the FO's contract must name."""


def _minimised(data: dict[str, Any], categories: set[str]) -> dict[str, Any]:
    """`data` without the personal fields whose category the FO's contracts do not share."""
    return {
        k: v
        for k, v in data.items()
        if k not in _CATEGORY_FIELDS or _CATEGORY_FIELDS[k] in categories
    }


_Pending = tuple[NotificationType, EvSessionRow, tuple[str, str], dict[str, Any]]


async def _notify(db: AsyncSession, now: datetime, pending: list[_Pending]) -> None:
    """Tell each FO whose SESSION-level contract covers a session that it started or ended,
    and every FO covering its EVSE that the EVSE's availability changed (at its level)."""
    if not pending:
        return
    ids = {x for _, row, place, _ in pending for x in (*place, row.evse_id)}
    covers = await covers_for(db, None, now, ids)
    for kind, row, place, data in pending:
        shared: dict[str, set[str]] = {}
        for cover in session_covers(row, place, covers):
            shared.setdefault(cover.fo_party_id, set()).update(cover.categories)
        for fo_party_id, categories in sorted(shared.items()):
            await enqueue_notification(
                db,
                fo_party_id=fo_party_id,
                type=kind.value,
                data=_minimised(data, categories),
                target={"level": "SESSION", "id": row.session_ref},
                occurred_at=now,
            )
    await notify_covering(
        db,
        now,
        [
            availability_notice(
                Place(place[0], place[1], row.evse_id),
                TargetStatus.OCCUPIED
                if kind is NotificationType.EV_CONNECTED
                else TargetStatus.AVAILABLE,
                now,
            )
            for kind, row, place, _ in pending
        ],
    )


async def subjects_of(
    db: AsyncSession, reported: Sequence[StationSession], pseudonyms: Pseudonymizer
) -> dict[str, tuple[str, Pseudonymizer]]:
    """Subject ref and own pseudonymizer of each reported session (by its key) whose EV user is
    known to the server; the others keep the deployment's key."""
    by_hash = {pseudonyms.identifier_hash(r.id_token): r for r in reported if r.id_token}
    known = await ev_store.keys_by_identifier(db, set(by_hash))
    return {
        by_hash[h].session_key: (ref, Pseudonymizer.for_subject(key))
        for h, (ref, key) in known.items()
    }


async def sync_sessions(
    db: AsyncSession,
    reported: Sequence[StationSession],
    pseudonyms: Pseudonymizer,
    now: datetime,
    scope: Collection[str] | None = None,
) -> int:
    """Reconcile stored sessions with the connected EVs the stations report; returns changes.

    `scope`: the EVSEs the report covers (None: all). A replica that holds only some stations
    (OCPP, several replicas) closes only the sessions of its own stations' EVSEs."""
    stored = {row.session_ref: row for row in await store.open_sessions(db)}
    evses = await load_evses(
        db, {r.evse_id for r in reported} | {r.evse_id for r in stored.values()}
    )
    models = {
        model_id: EvModel.model_validate(row.data)
        for model_id, row in (
            await load_ev_models(db, {r.ev.model_id for r in reported if r.ev.model_id})
        ).items()
    }
    subjects = await subjects_of(db, reported, pseudonyms)
    own: dict[str, Pseudonymizer] = {}
    for r in reported:
        subject = subjects.get(r.session_key)
        mine = subject[1] if subject else pseudonyms
        # A session stored before its user was known keeps the pseudonyms it was stored under.
        if mine is not pseudonyms and pseudonyms.session_ref(r.session_key) in stored:
            mine = pseudonyms
        own[r.session_key] = mine
    consents = await store.consents_by_id(
        db, [own[r.session_key].consent_id(r.session_key) for r in reported]
    )
    changes = 0
    seen: set[str] = set()
    pending: list[_Pending] = []
    for item in reported:
        evse = evses.get(item.evse_id)
        if evse is None:
            continue  # not in the registry: nobody may see or steer it
        keyed = own[item.session_key]
        subject = subjects.get(item.session_key)
        subject_ref = (
            subject[0] if subject else pseudonyms.subject_ref(item.id_token or item.session_key)
        )
        ref = keyed.session_ref(item.session_key)
        seen.add(ref)
        limits = _limits(item).model_dump(mode="json")
        consent_id = _sync_consent(
            db,
            item,
            keyed,
            subject_ref,
            consents.get(keyed.consent_id(item.session_key)),
            limits,
            now,
        )
        model = models.get(item.ev.model_id) if item.ev.model_id else None
        document = session_document(item, ref, consent_id, model)
        row = stored.get(ref)
        if row is None:
            row = EvSessionRow(
                session_ref=ref,
                evse_id=item.evse_id,
                subject_ref=subject_ref,
                connected_at=item.connected_at,
                departure_time=item.departure_time,
                home_party_id=item.home_party_id,
                visited_party_id=item.visited_party_id,
                fs_controller=item.fs_controller,
                consent_id=consent_id,
                data=document,
            )
            db.add(row)
            changes += 1
            pending.append(
                (
                    NotificationType.EV_CONNECTED,
                    row,
                    (evse.site_id, evse.cs_id),
                    {
                        "session_ref": ref,
                        "evse_id": item.evse_id,
                        "departure_time": document["departure_time"],
                        "v2g_capable": bool(document["ev"]["bidirectional"]) and item.consent_v2g,
                    },
                )
            )
        elif row.data != document or row.consent_id != consent_id or row.subject_ref != subject_ref:
            row.data, row.consent_id, row.departure_time = document, consent_id, item.departure_time
            row.subject_ref = subject_ref
            changes += 1
    for ref, row in stored.items():
        if ref in seen or (scope is not None and row.evse_id not in scope):
            continue
        row.disconnected_at = now
        changes += 1
        evse = evses.get(row.evse_id)
        energy = row.data.get("energy") or {}
        if evse is not None:
            pending.append(
                (
                    NotificationType.EV_DISCONNECTED,
                    row,
                    (evse.site_id, evse.cs_id),
                    {
                        "session_ref": ref,
                        "evse_id": row.evse_id,
                        "energy_charged_wh": energy.get("imported_wh") or 0.0,
                        "energy_injected_wh": energy.get("exported_wh") or 0.0,
                    },
                )
            )
    await _notify(db, now, pending)
    return changes
