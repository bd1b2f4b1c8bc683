"""The control stack: every running FS's layer on an EVSE composed into one effective command.

Several FS may act on one EVSE at once (a CONGESTION cap for the afternoon, a DEMAND_RESPONSE
event within it, a RESERVE activation). Each contributes a *layer* (`Layer`: a limit, a
setpoint, an armed local function, each optional); the station gets one composed command per
kind, computed here, deterministically, from all layers in force:

- **Limits**: the minimum, per direction, of every layer's limit, the EVSE's capability (import;
  export is 0 on an EVSE that cannot discharge) and the site's grid connection, as it stands
  for the EVs: the connection's limits less the rest of the site (`SiteBound.other_w`: a home's
  load leaves less import for charging and makes room for V2H discharge under a zero-export
  rule; PV the other way round).
- **Setpoint**: the layer of highest priority (`PRIORITY` by FS type; the older FS on a tie)
  wins, clamped within every limit above. On one site, the composed setpoints together stay
  within the connection: imports (and exports) over the limit are scaled down in proportion.
- **Armed function** (droop, FFR): the highest-priority one, its power range clamped within the
  limits.
- A composed limit stays valid until the *latest* of its layers' `valid_until` (a stricter cap
  outliving its layer by one execution pass errs on the safe side; a cap never lapses early);
  a setpoint or armed function keeps its own layer's.

Ending, cancelling or superseding an FS removes its layers only; the others compose again.
Pure: layers and bounds in, commands out (`server/services/flexibility_services/dispatch.py`
reads and stores the layers and hands the composed commands to the stations).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from fcsbe.model import FsType

__all__ = [
    "PRIORITY",
    "ArmedLayer",
    "Composed",
    "EvseBound",
    "Layer",
    "SiteBound",
    "compose",
]

PRIORITY: Mapping[str, int] = {
    FsType.RESERVE.value: 70,
    FsType.FFR.value: 60,
    FsType.DROOP.value: 50,
    FsType.SETPOINT.value: 40,
    FsType.DEMAND_RESPONSE.value: 30,
    FsType.DYNAMIC_PRICE.value: 20,
    FsType.CONGESTION.value: 10,
}
"""Whose setpoint wins on one EVSE: balancing (reserve activations, frequency response) before
schedules, schedules before price signals. Limits do not need it: they all hold at once."""


@dataclass(frozen=True, slots=True)
class ArmedLayer:
    """A local function (droop or FFR) as an FS arms it: its kind and its parameters."""

    kind: str
    params: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class Layer:
    """What one FS asks of one EVSE (W, + import; limits are magnitudes; None: no ask)."""

    fs_pk: int
    fs_id: str
    evse_id: str
    priority: int
    setpoint_w: float | None = None
    setpoint_var: float | None = None
    max_import_w: float | None = None
    max_export_w: float | None = None
    armed: ArmedLayer | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class EvseBound:
    """An EVSE's physical range: what it can import and export (0 without V2G), and its site."""

    evse_id: str
    site_id: str
    max_import_w: float = math.inf
    max_export_w: float = 0.0


@dataclass(frozen=True, slots=True)
class SiteBound:
    """A site's grid connection: import and export limits at the point of connection."""

    site_id: str
    import_limit_w: float = math.inf
    export_limit_w: float = math.inf
    other_w: float = 0.0
    """Non-EV power behind the connection now (load - PV, + import), from its meter."""

    @property
    def evse_import_w(self) -> float:
        """What the site's EVSEs may import together without the connection importing more."""
        return max(0.0, self.import_limit_w - self.other_w)

    @property
    def evse_export_w(self) -> float:
        """What they may export together: the export limit plus the load they feed (V2H)."""
        return max(0.0, self.export_limit_w + self.other_w)


@dataclass(frozen=True, slots=True)
class Composed:
    """The effective command of one EVSE. `limit` is (max import W, max export W), a side None
    when no layer caps it; `*_fs_id` name the layer that decided each part (for the logs)."""

    evse_id: str
    limit: tuple[float | None, float | None] | None = None
    limit_fs_id: str | None = None
    limit_until: datetime | None = None
    setpoint_w: float | None = None
    setpoint_var: float | None = None
    setpoint_fs_id: str | None = None
    setpoint_until: datetime | None = None
    armed: ArmedLayer | None = None
    armed_fs_id: str | None = None
    armed_until: datetime | None = None
    ceilings: tuple[float, float] = field(default=(math.inf, math.inf), compare=False)
    """(import, export) the EVSE may reach under every bound: what the setpoint was held in."""

    @property
    def empty(self) -> bool:
        """True when nothing is asked of the EVSE: it returns to unmanaged charging."""
        return self.limit is None and self.setpoint_w is None and self.armed is None


def _in_force(layer: Layer, now: datetime) -> bool:
    return layer.valid_until is None or layer.valid_until > now


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    found = list(values)
    if not found or any(v is None for v in found):
        return None
    return max(v for v in found if v is not None)


def _rank(layer: Layer) -> tuple[int, int]:
    return (-layer.priority, layer.fs_pk)


def _clamp_armed(armed: ArmedLayer, import_w: float, export_w: float) -> ArmedLayer:
    params = dict(armed.params)
    for key in ("p_max_w", "p_min_w", "p_ref_w"):
        value = params.get(key)
        if value is not None:
            params[key] = max(-export_w, min(import_w, value))
    return ArmedLayer(armed.kind, params)


def _compose_evse(
    evse_id: str, layers: list[Layer], bound: EvseBound | None, site: SiteBound | None
) -> Composed:
    import_w = bound.max_import_w if bound is not None else math.inf
    export_w = bound.max_export_w if bound is not None else math.inf
    if site is not None:
        import_w, export_w = min(import_w, site.evse_import_w), min(export_w, site.evse_export_w)
    import_w, export_w = max(0.0, import_w), max(0.0, export_w)
    imports = [layer for layer in layers if layer.max_import_w is not None]
    exports = [layer for layer in layers if layer.max_export_w is not None]
    limit: tuple[float | None, float | None] | None = None
    limit_fs: str | None = None
    limit_until: datetime | None = None
    if imports or exports:
        binding = min(imports, key=lambda x: (x.max_import_w, x.fs_pk)) if imports else None
        for layer in imports:
            import_w = min(import_w, max(0.0, layer.max_import_w or 0.0))
        for layer in exports:
            export_w = min(export_w, max(0.0, layer.max_export_w or 0.0))
        limit = (import_w if imports else None, export_w if exports else None)
        limit_fs = (binding or min(exports, key=lambda x: (x.max_export_w, x.fs_pk))).fs_id
        limit_until = _latest(x.valid_until for x in [*imports, *exports])
    ranked = sorted(layers, key=_rank)
    chosen = next((x for x in ranked if x.setpoint_w is not None), None)
    armed = next((x for x in ranked if x.armed is not None), None)
    return Composed(
        evse_id=evse_id,
        limit=limit,
        limit_fs_id=limit_fs,
        limit_until=limit_until,
        setpoint_w=(
            None
            if chosen is None or chosen.setpoint_w is None
            else max(-export_w, min(import_w, chosen.setpoint_w))
        ),
        setpoint_var=chosen.setpoint_var if chosen is not None else None,
        setpoint_fs_id=chosen.fs_id if chosen is not None else None,
        setpoint_until=chosen.valid_until if chosen is not None else None,
        armed=(
            None
            if armed is None or armed.armed is None
            else _clamp_armed(armed.armed, import_w, export_w)
        ),
        armed_fs_id=armed.fs_id if armed is not None else None,
        armed_until=armed.valid_until if armed is not None else None,
        ceilings=(import_w, export_w),
    )


def _fit_site(composed: list[Composed], site: SiteBound) -> list[Composed]:
    """Scale the site's composed setpoints so that imports and exports each fit the connection."""
    imported = sum(c.setpoint_w for c in composed if c.setpoint_w is not None and c.setpoint_w > 0)
    exported = -sum(c.setpoint_w for c in composed if c.setpoint_w is not None and c.setpoint_w < 0)
    up = 1.0 if imported <= site.evse_import_w else site.evse_import_w / imported
    down = 1.0 if exported <= site.evse_export_w else site.evse_export_w / exported
    if up >= 1.0 and down >= 1.0:
        return composed
    fitted = []
    for c in composed:
        if c.setpoint_w is None or c.setpoint_w == 0:
            fitted.append(c)
            continue
        scale = up if c.setpoint_w > 0 else down
        fitted.append(_replace_setpoint(c, c.setpoint_w * scale))
    return fitted


def _replace_setpoint(c: Composed, setpoint_w: float) -> Composed:
    return Composed(
        evse_id=c.evse_id,
        limit=c.limit,
        limit_fs_id=c.limit_fs_id,
        limit_until=c.limit_until,
        setpoint_w=setpoint_w,
        setpoint_var=c.setpoint_var,
        setpoint_fs_id=c.setpoint_fs_id,
        setpoint_until=c.setpoint_until,
        armed=c.armed,
        armed_fs_id=c.armed_fs_id,
        armed_until=c.armed_until,
        ceilings=c.ceilings,
    )


def compose(
    layers: Iterable[Layer],
    evses: Mapping[str, EvseBound],
    sites: Mapping[str, SiteBound],
    now: datetime,
    evse_ids: Iterable[str] = (),
) -> dict[str, Composed]:
    """The effective command of every EVSE that has a layer in force at `now` (and of each of
    `evse_ids`, empty when nothing is asked of it), bounded by `evses` and `sites`.

    Deterministic: the same layers and bounds give the same commands, whatever their order.
    """
    by_evse: dict[str, list[Layer]] = defaultdict(list)
    for layer in layers:
        if _in_force(layer, now):
            by_evse[layer.evse_id].append(layer)
    for evse_id in evse_ids:
        by_evse.setdefault(evse_id, [])
    by_site: dict[str | None, list[Composed]] = defaultdict(list)
    for evse_id in sorted(by_evse):
        bound = evses.get(evse_id)
        site = sites.get(bound.site_id) if bound is not None else None
        composed = _compose_evse(evse_id, by_evse[evse_id], bound, site)
        by_site[bound.site_id if bound is not None else None].append(composed)
    result: dict[str, Composed] = {}
    for site_id, composed_list in by_site.items():
        site = sites.get(site_id) if site_id is not None else None
        for c in _fit_site(composed_list, site) if site is not None else composed_list:
            result[c.evse_id] = c
    return result
