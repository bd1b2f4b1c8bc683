"""Raw identifiers a real station reports for an EV: its user's ID token, and the EV's own ids.

A station authorises a session with an ID token: the contract id (eMAID, e.g.
`NL-FCS-C1A2B3C4D-7`) of a charging contract, sent by the EV itself under ISO 15118 Plug & Charge
or by the app, or the UID of an RFID card (hex). An ISO 15118 EV also tells the station its
communication controller id (EVCCID, the 6-byte MAC of its modem) and, under ISO 15118-20, may
tell its VIN. These are personal data the server must never pass on: the simulator draws them
so that the leak tests have something real to look for.

Drawn from a generator of their own (seeded per site), once per arrival, so they neither change
the arrival stream the physics sees nor cost anything per step.

This module must not touch EVSE state.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from fcsbe.sim.fleet import EvProfile

__all__ = ["Identity", "draw_identity", "emaid", "evcc_id", "is_iso15118", "rfid_uid", "vin"]

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # ISO 3779: no I, O or Q
_PROVIDERS = (("NL", "FCS"), ("DE", "EMP"), ("FR", "MOB"), ("BE", "CHG"))
_CONTRACT_SHARE = 0.6
"""Share of non-ISO-15118 EVs that authorise with a contract id (app or key fob) rather than an
anonymous-looking RFID card UID."""


class Identity(NamedTuple):
    """What a station learns that identifies an EV or its user; None where it learns nothing."""

    id_token: str
    vin: str | None
    evcc_id: str | None


def is_iso15118(ev: EvProfile) -> bool:
    """Does this EV talk ISO 15118 to the station (and so report an EVCCID, maybe a VIN)?"""
    return any("ISO 15118" in c for c in ev.conformity)


def emaid(rng: random.Random) -> str:
    """A contract id in the eMAID form `CC-PPP-CXXXXXXXX-K` (K a check character)."""
    country, provider = rng.choice(_PROVIDERS)
    instance = "".join(rng.choices(_ALNUM, k=8))
    body = f"{country}{provider}C{instance}"
    check = _ALNUM[sum(_ALNUM.index(c) * (k + 1) for k, c in enumerate(body)) % len(_ALNUM)]
    return f"{country}-{provider}-C{instance}-{check}"


def rfid_uid(rng: random.Random) -> str:
    """The UID of an ISO 14443 RFID card: 7 bytes, upper-case hex as OCPP's `ISO14443` tokens."""
    return f"04{rng.getrandbits(48):012X}"


def vin(rng: random.Random) -> str:
    """A 17-character vehicle identification number (ISO 3779 alphabet)."""
    return "".join(rng.choices(_VIN_CHARS, k=17))


def evcc_id(rng: random.Random) -> str:
    """The EV communication controller id of ISO 15118: the 6-byte MAC of its PLC modem."""
    return f"{rng.getrandbits(48):012X}"


def draw_identity(rng: random.Random, ev: EvProfile) -> Identity:
    """The identifiers one arriving EV reports: ISO 15118 EVs authorise with their contract id
    (Plug & Charge) and report an EVCCID and a VIN; the others show a contract id or an RFID
    card."""
    if is_iso15118(ev):
        return Identity(emaid(rng), vin(rng), evcc_id(rng))
    token = emaid(rng) if rng.random() < _CONTRACT_SHARE else rfid_uid(rng)
    return Identity(token, None, None)
