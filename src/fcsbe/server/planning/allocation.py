"""Sharing one aggregate power over many EVSEs, fast enough for dynamic setpoints (P3).

The rule, used by every FS type that splits a total:

Each EVSE i has a range [lo_i, hi_i] and an anchor a_i inside it, the power it takes when
nothing is asked of it: 0, or the power it must charge to reach its minimum SoC by departure.
For a total T above the sum of anchors A, every EVSE moves up from its anchor by the same
fraction t of its own upward room: x_i = a_i + t (hi_i - a_i), t = (T - A) / (sum hi - A).
Below A it moves down by the same fraction of its downward room. So each EVSE's share is
proportional to its headroom in the direction asked, all EVSEs reach their bounds together (none
is capped while another still has room, so nothing is left to redistribute), the shares sum to T
exactly when T is feasible, and to the nearest feasible bound (sum lo or sum hi) otherwise.
Starting from the anchors avoids circular flows: no EV discharges to feed another's charging
unless some EV must charge. The split is one multiply-add per EVSE over precomputed lists, so
the per-update cost stays a single list comprehension.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fcsbe.server.planning.types import MUST_CHARGE_HORIZON_H, EvseState

__all__ = ["SplitBasis", "split_setpoint", "split_total"]


@dataclass(frozen=True, slots=True)
class SplitBasis:
    """Precomputed ranges of the EVSEs that share a total, in a fixed order.

    Build it once per FS (and again when an EV connects, leaves or changes limits); then every
    dynamic update is a `split_setpoint` over it.
    """

    evse_ids: tuple[str, ...]
    lo: tuple[float, ...]
    anchor: tuple[float, ...]
    hi: tuple[float, ...]
    room_up: tuple[float, ...]
    room_down: tuple[float, ...]
    sum_lo: float
    sum_anchor: float
    sum_hi: float

    @classmethod
    def of_ranges(
        cls,
        evse_ids: Sequence[str],
        lo: Sequence[float],
        anchor: Sequence[float],
        hi: Sequence[float],
    ) -> SplitBasis:
        """A basis from explicit ranges; each anchor is clamped into its range."""
        anchors = tuple(min(max(a, low), high) for low, a, high in zip(lo, anchor, hi, strict=True))
        lows = tuple(lo)
        highs = tuple(hi)
        return cls(
            evse_ids=tuple(evse_ids),
            lo=lows,
            anchor=anchors,
            hi=highs,
            room_up=tuple(h - a for a, h in zip(anchors, highs, strict=True)),
            room_down=tuple(a - low for low, a in zip(lows, anchors, strict=True)),
            sum_lo=sum(lows),
            sum_anchor=sum(anchors),
            sum_hi=sum(highs),
        )

    @classmethod
    def for_setpoint(cls, evses: Sequence[EvseState], now: datetime) -> SplitBasis:
        """The basis of a SETPOINT: each connected EVSE from its export headroom (or from the
        power it must charge, which it always keeps) up to its import headroom.

        One pass with the rules of `EvseState.must_charge_w` / `import_room_w` /
        `export_room_w` written inline: this runs over every EVSE of an FS when it starts.
        """
        now_s = now.timestamp()
        ids: list[str] = []
        lo: list[float] = []
        anchor: list[float] = []
        hi: list[float] = []
        up: list[float] = []
        down: list[float] = []
        for e in evses:
            if not e.connected:
                continue
            high = e.max_import_w if e.max_import_w > 0 else 0.0
            must = 0.0
            if e.energy_to_min_soc_wh > 0 and e.departure is not None:
                hours = (e.departure.timestamp() - now_s) / 3600.0
                if hours <= 0:
                    must = high
                elif hours <= MUST_CHARGE_HORIZON_H:
                    must = min(e.energy_to_min_soc_wh / hours, high)
                else:  # latest-start rule, as EvseState.must_charge_w
                    later = high * (hours - MUST_CHARGE_HORIZON_H)
                    must = min(
                        max(0.0, e.energy_to_min_soc_wh - later) / MUST_CHARGE_HORIZON_H, high
                    )
            if must > 0:
                low = must
            elif e.v2g_allowed and e.export_energy_left_wh > 0 and e.max_export_w > 0:
                low = -e.max_export_w
            else:
                low = 0.0
            ids.append(e.evse_id)
            lo.append(low)
            anchor.append(must)
            hi.append(high)
            up.append(high - must)
            down.append(must - low)
        sum_anchor = sum(anchor)
        return cls(
            evse_ids=tuple(ids),
            lo=tuple(lo),
            anchor=tuple(anchor),
            hi=tuple(hi),
            room_up=tuple(up),
            room_down=tuple(down),
            sum_lo=sum(lo),
            sum_anchor=sum_anchor,
            sum_hi=sum(hi),
        )

    def __len__(self) -> int:
        return len(self.evse_ids)

    def feasible(self, total_w: float) -> float:
        """The total the EVSEs can reach: `total_w` clamped into [sum lo, sum hi]."""
        return min(max(total_w, self.sum_lo), self.sum_hi)


def split_setpoint(total_w: float, basis: SplitBasis) -> list[float]:
    """Split an aggregate setpoint over the EVSEs of `basis` (same order as `basis.evse_ids`).

    The fast path of dynamic updates: no allocation but the result list, no per-EVSE branch.
    """
    gap = total_w - basis.sum_anchor
    if gap >= 0:
        room = basis.sum_hi - basis.sum_anchor
        t = 1.0 if room <= 0 or gap >= room else gap / room
        return [a + t * r for a, r in zip(basis.anchor, basis.room_up, strict=False)]
    room = basis.sum_anchor - basis.sum_lo
    t = 1.0 if room <= 0 or -gap >= room else -gap / room
    return [a - t * r for a, r in zip(basis.anchor, basis.room_down, strict=False)]


def split_total(total_w: float, rooms: Sequence[float]) -> list[float]:
    """Share a non-negative total over non-negative rooms, proportionally, never above a room.

    The one-sided case of `split_setpoint` (anchors at zero), used for limits and reserves.
    """
    room = sum(rooms)
    if room <= 0 or total_w <= 0:
        return [0.0 for _ in rooms]
    t = min(1.0, total_w / room)
    return [t * r for r in rooms]
