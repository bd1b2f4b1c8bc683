"""Importing a station registry document: all-or-nothing, idempotent, with precise errors.

`parse_document` turns raw data (a parsed YAML/JSON file or a request body) into a
`RegistryDocument`, refusing unknown fields anywhere and every cross-entry inconsistency;
`import_registry` then checks the document against the stored registry and writes only what
changed, so importing the same file twice changes nothing (not even `updated_at`). Any problem
raises `RegistryRejected` with every issue found and nothing written. An EVSE added, removed,
or whose capabilities changed (`CAPABILITY_FIELDS`) is notified (`CAPABILITY_CHANGED`, in the
same transaction) to every FO whose active contract covers it, at its data-sharing level.

An import adds and updates; it never deletes a site or a station. A station is replaced as a
whole: EVSEs it no longer lists are removed (refused while EV sessions refer to them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import (
    CapabilityChangedData,
    ChargingStation,
    ConfigurationType,
    ImportCounts,
    NotificationType,
    RegistryDocument,
    RegistryImportResult,
    Site,
)
from fcsbe.server.errors import json_pointer
from fcsbe.server.services.event_log.log import append_event
from fcsbe.server.services.registry.rules import (
    SINGLE_EVSE_CONFIGURATIONS,
    RegistryIssue,
    check_document,
    configuration_name,
)
from fcsbe.server.services.registry.target_notices import (
    Audience,
    Place,
    TargetNotice,
    notify_covering,
)
from fcsbe.server.storage import registry as store
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.infrastructure import ChargingStationRow, EvModelRow, EvseRow, SiteRow

__all__ = ["RegistryRejected", "import_registry", "parse_document"]


class RegistryRejected(Exception):
    """The document was refused; `issues` lists every problem, nothing was written."""

    def __init__(self, issues: Sequence[RegistryIssue]) -> None:
        self.issues = list(issues)
        super().__init__(f"{len(self.issues)} problem(s) in the registry document")


def _describe(error: Any) -> str:
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    value = error.get("input")
    if error.get("type") != "missing" and isinstance(value, int | float | str | bool):
        message += f" (got {value!r})"
    return message


def parse_document(raw: Any) -> RegistryDocument:
    """Validate raw data as a registry document; unknown fields are refused at every depth.

    Cross-entry rules are checked by `import_registry`, together with those that need the
    stored registry, so that one run reports every problem.
    """
    try:
        document = RegistryDocument.model_validate(raw, extra="forbid")
    except ValidationError as exc:
        raise RegistryRejected(
            [
                RegistryIssue(json_pointer(e["loc"]), _describe(e), str(e["type"]))
                for e in exc.errors()
            ]
        ) from None
    return document


@dataclass
class _Plan:
    """Rows to write, per table, and the counts the result reports."""

    inserts: dict[type[Any], list[dict[str, Any]]] = field(default_factory=dict)
    updates: dict[type[Any], list[dict[str, Any]]] = field(default_factory=dict)
    removed_evses: set[str] = field(default_factory=set)
    counts: dict[str, ImportCounts] = field(default_factory=dict)

    def add(self, kind: str, table: type[Any], stored: Any, row: dict[str, Any]) -> None:
        counts = self.counts.setdefault(kind, ImportCounts(created=0, updated=0, unchanged=0))
        if stored is None:
            self.inserts.setdefault(table, []).append(row)
            counts.created += 1
        elif _differs(stored, row):
            self.updates.setdefault(table, []).append(row)
            counts.updated += 1
        else:
            counts.unchanged += 1

    @property
    def changed(self) -> bool:
        return bool(self.inserts or self.updates or self.removed_evses)


CAPABILITY_FIELDS = (
    "current_type",
    "phases",
    "min_charge_power_w",
    "max_charge_power_w",
    "max_discharge_power_w",
    "max_apparent_power_va",
    "reactive",
    "energy_transfer_modes",
    "converter_location",
)
"""Fields of an EVSE document that change what the EVSE can do (its capabilities)."""


def _capability_changed(stored: EvseRow, row: dict[str, Any]) -> bool:
    return any(stored.data.get(key) != row["data"].get(key) for key in CAPABILITY_FIELDS)


def _capability_notice(place: Place, now: datetime) -> TargetNotice:
    def data(audience: Audience) -> dict[str, Any] | None:
        if not audience.fs_types:
            return None
        changed = CapabilityChangedData(fs_types=list(audience.fs_types), reason="REGISTRY_UPDATED")
        return changed.model_dump(mode="json")

    return TargetNotice(NotificationType.CAPABILITY_CHANGED, place, data, now)


def _capability_notices(
    plan: _Plan, stored_evses: dict[str, EvseRow], now: datetime
) -> list[TargetNotice]:
    """A notice per EVSE added, removed, or whose capabilities changed."""
    places = [Place(r["site_id"], r["cs_id"], r["evse_id"]) for r in plan.inserts.get(EvseRow, [])]
    places += [
        Place(r["site_id"], r["cs_id"], r["evse_id"])
        for r in plan.updates.get(EvseRow, [])
        if _capability_changed(stored_evses[r["evse_id"]], r)
    ]
    places += [
        Place(stored_evses[e].site_id, stored_evses[e].cs_id, e) for e in sorted(plan.removed_evses)
    ]
    return [_capability_notice(place, now) for place in places]


def _differs(stored: Any, row: dict[str, Any]) -> bool:
    return any(key != "updated_at" and getattr(stored, key) != value for key, value in row.items())


def _site_row(site: Site, now: datetime) -> dict[str, Any]:
    return {
        "site_id": site.site_id,
        "configuration_type": int(site.configuration_type),
        "grid_state": site.grid_state.value,
        "energy_community_id": site.energy_community_id,
        "data": site.model_dump(mode="json", exclude={"cs_ids"}),
        "updated_at": now,
    }


def _station_rows(
    station: ChargingStation, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    document = station.model_dump(mode="json")
    document["evses"].sort(key=lambda e: (e["ocpp_evse_id"], e["evse_id"]))  # served as stored
    cs_row = {
        "cs_id": station.cs_id,
        "site_id": station.site_id,
        "data": document,
        "updated_at": now,
    }
    evse_rows = [
        {
            "evse_id": evse.evse_id,
            "cs_id": station.cs_id,
            "site_id": station.site_id,
            "current_type": evse.current_type.value,
            "max_charge_w": evse.max_charge_power_w,
            "max_discharge_w": evse.max_discharge_power_w,
            "data": evse.model_dump(mode="json"),
            "updated_at": now,
        }
        for evse in station.evses
    ]
    return cs_row, evse_rows


async def _check_against_store(
    session: AsyncSession, document: RegistryDocument
) -> tuple[
    list[RegistryIssue], dict[str, SiteRow], dict[str, ChargingStationRow], dict[str, EvseRow]
]:
    """Rules that need the stored registry: sites, configurations, EVSE ownership, removals."""
    issues: list[RegistryIssue] = []
    doc_sites = {s.site_id: s for s in document.sites}
    doc_stations = {c.cs_id: (i, c) for i, c in enumerate(document.charging_stations)}
    referenced = set(doc_sites) | {c.site_id for c in document.charging_stations}
    stored_sites = await store.load_sites(session, referenced)
    stored_stations = await store.load_stations(session, doc_stations)
    doc_evse_ids = [e.evse_id for c in document.charging_stations for e in c.evses]
    stored_evses = await store.load_evses(session, doc_evse_ids)
    stored_evses.update(await store.load_evses_of_stations(session, doc_stations))
    kind_of: dict[str, ConfigurationType] = {
        site_id: ConfigurationType(row.configuration_type) for site_id, row in stored_sites.items()
    }
    kind_of.update((s.site_id, s.configuration_type) for s in document.sites)
    evse_count: dict[str, int] = {}
    for i, station in enumerate(document.charging_stations):
        at = f"/charging_stations/{i}"
        site_kind = kind_of.get(station.site_id)
        if site_kind is None:
            issues.append(
                RegistryIssue(
                    f"{at}/site_id",
                    f"unknown site {station.site_id!r}: not in this document nor in the registry",
                    "unknown_site",
                )
            )
            continue
        if station.configuration_type is not site_kind:
            issues.append(
                RegistryIssue(
                    f"{at}/configuration_type",
                    f"configuration {configuration_name(station.configuration_type)} differs "
                    f"from site {station.site_id!r}, which is {configuration_name(site_kind)}",
                    "inconsistent_configuration",
                )
            )
        evse_count[station.site_id] = evse_count.get(station.site_id, 0) + len(station.evses)
        for j, evse in enumerate(station.evses):
            owner = stored_evses.get(evse.evse_id)
            if (
                owner is not None
                and owner.cs_id != station.cs_id
                and owner.cs_id not in doc_stations
            ):
                issues.append(
                    RegistryIssue(
                        f"{at}/evses/{j}/evse_id",
                        f"EVSE {evse.evse_id!r} belongs to charging station {owner.cs_id!r} in "
                        "the registry; re-import that station without it to move it",
                        "evse_owned_elsewhere",
                    )
                )
    others = [
        r for r in await store.stations_on_sites(session, doc_sites) if r.cs_id not in doc_stations
    ]
    other_counts = await store.station_evse_counts(session, [r.cs_id for r in others])
    for row in others:
        evse_count[row.site_id] = evse_count.get(row.site_id, 0) + other_counts.get(row.cs_id, 0)
        stored_kind = ConfigurationType(int(row.data["configuration_type"]))
        if stored_kind is not kind_of[row.site_id]:
            index = list(doc_sites).index(row.site_id)
            issues.append(
                RegistryIssue(
                    f"/sites/{index}/configuration_type",
                    f"charging station {row.cs_id!r} in the registry is configuration "
                    f"{configuration_name(stored_kind)}, the site would become "
                    f"{configuration_name(kind_of[row.site_id])}",
                    "inconsistent_configuration",
                )
            )
    for index, site in enumerate(document.sites):
        if (
            site.configuration_type in SINGLE_EVSE_CONFIGURATIONS
            and evse_count.get(site.site_id, 0) > 1
        ):
            issues.append(
                RegistryIssue(
                    f"/sites/{index}/configuration_type",
                    f"configuration {configuration_name(site.configuration_type)} allows one EVSE "
                    f"on the site, it would have {evse_count[site.site_id]}",
                    "inconsistent_configuration",
                )
            )
        known = {c.cs_id for c in document.charging_stations if c.site_id == site.site_id}
        known.update(r.cs_id for r in others if r.site_id == site.site_id)
        for k, cs_id in enumerate(site.cs_ids):
            if cs_id not in known:
                issues.append(
                    RegistryIssue(
                        f"/sites/{index}/cs_ids/{k}",
                        f"charging station {cs_id!r} is not on this site (cs_ids may be left "
                        "out: it is derived from charging_stations)",
                        "unknown_station",
                    )
                )
    return issues, stored_sites, stored_stations, stored_evses


async def import_registry(
    session: AsyncSession, document: RegistryDocument, *, dry_run: bool = False
) -> RegistryImportResult:
    """Check `document` against the registry and write what changed (nothing on a dry run)."""
    await store.lock_registry(session)
    issues = check_document(document)
    store_issues, stored_sites, stored_stations, stored_evses = await _check_against_store(
        session, document
    )
    issues.extend(store_issues)
    now = utcnow()
    plan = _Plan()
    for site in document.sites:
        plan.add("sites", SiteRow, stored_sites.get(site.site_id), _site_row(site, now))
    kept = {e.evse_id for c in document.charging_stations for e in c.evses}
    for i, station in enumerate(document.charging_stations):
        cs_row, evse_rows = _station_rows(station, now)
        plan.add(
            "charging_stations", ChargingStationRow, stored_stations.get(station.cs_id), cs_row
        )
        for row in evse_rows:
            plan.add("evses", EvseRow, stored_evses.get(row["evse_id"]), row)
        dropped = {
            evse_id
            for evse_id, row in stored_evses.items()
            if row.cs_id == station.cs_id and evse_id not in kept
        }
        for evse_id in sorted(await store.evses_with_sessions(session, dropped)):
            issues.append(
                RegistryIssue(
                    f"/charging_stations/{i}/evses",
                    f"EVSE {evse_id!r} is left out but EV sessions refer to it; it cannot be "
                    "removed",
                    "evse_in_use",
                )
            )
        plan.removed_evses |= dropped
    stored_models = await store.load_ev_models(session, (m.ev_model_id for m in document.ev_models))
    for model in document.ev_models:
        row = {
            "ev_model_id": model.ev_model_id,
            "data": model.model_dump(mode="json"),
            "updated_at": now,
        }
        plan.add("ev_models", EvModelRow, stored_models.get(model.ev_model_id), row)
    if issues:
        raise RegistryRejected(issues)
    empty = ImportCounts(created=0, updated=0, unchanged=0)
    evse_counts = plan.counts.get("evses", empty).model_copy(
        update={"removed": len(plan.removed_evses)}
    )
    result = RegistryImportResult(
        dry_run=dry_run,
        changed=plan.changed,
        sites=plan.counts.get("sites", empty),
        charging_stations=plan.counts.get("charging_stations", empty),
        evses=evse_counts,
        ev_models=plan.counts.get("ev_models", empty),
    )
    if dry_run or not plan.changed:
        return result
    notices = _capability_notices(plan, stored_evses, now)  # from the rows as they were
    await store.delete_evses(session, plan.removed_evses)
    for table in (SiteRow, ChargingStationRow, EvseRow, EvModelRow):
        await store.insert_rows(session, table, plan.inserts.get(table, []))
        await store.update_rows(session, table, plan.updates.get(table, []))
    await append_event(
        session,
        type="REGISTRY_IMPORTED",
        object_ref="registry",
        summary=(
            f"registry import: sites {result.sites.created}+/{result.sites.updated}~, stations "
            f"{result.charging_stations.created}+/{result.charging_stations.updated}~, EVSEs "
            f"{result.evses.created}+/{result.evses.updated}~/{result.evses.removed}-"
        ),
        payload=result.model_dump(mode="json"),
        source="OPERATOR",
    )
    await notify_covering(session, now, notices)
    return result
