"""Station passwords for OCPP security profiles 1 and 2: issued here, stored as hashes.

`issue_passwords` gives each named station a fresh random password and returns them (the only
time they exist in clear); `provision_missing` does it for every registry station that has
none yet. `write_password_file` keeps them in a JSON file `{station_id: password}` readable by
its owner only (mode 0600), the format `fcsbe stations simulate --password-file` reads.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.server.security.station_passwords import hash_password, new_password
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.ocpp_stations import (
    credential_hashes,
    registry_stations,
    set_credential,
)

__all__ = ["issue_passwords", "provision_missing", "read_password_file", "write_password_file"]


async def issue_passwords(db: AsyncSession, cs_ids: Sequence[str]) -> dict[str, str]:
    """A fresh password for each station (replacing any older one), stored as a hash in the
    caller's transaction."""
    issued = {cs_id: new_password() for cs_id in cs_ids}
    hashes = await asyncio.to_thread(
        lambda: {cs_id: hash_password(password) for cs_id, password in issued.items()}
    )
    now = utcnow()
    for cs_id, hashed in hashes.items():
        await set_credential(db, cs_id, hashed, now)
    return issued


async def provision_missing(db: AsyncSession) -> dict[str, str]:
    """Passwords for the registry stations that have none (in the caller's transaction)."""
    ids = [cs_id for cs_id, _site in await registry_stations(db)]
    have = await credential_hashes(db, ids)
    return await issue_passwords(db, [cs_id for cs_id in ids if cs_id not in have])


def read_password_file(path: Path) -> dict[str, str]:
    """The passwords of a password file (empty when there is none)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a JSON object of station id -> password")
    return {str(k): str(v) for k, v in document.items()}


def write_password_file(path: Path, passwords: Mapping[str, str]) -> None:
    """Write `passwords` to `path` (created with mode 0600, replaced atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(dict(sorted(passwords.items())), out, indent=2)
        out.write("\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
