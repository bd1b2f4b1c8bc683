"""The server's own Ed25519 signing keys, kept in files under `data_dir/keys`, never in the DB.

The active private key signs everything the server issues (FS responses, DSRs, PoWs, signed tree
heads, webhooks). Retired keys keep their public half in the published JWKS so that signatures
made before a rotation still verify. Private key files are created with mode 0600.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcsbe.model import generate_signing_key, public_jwk, sign_detached
from fcsbe.model.webhook_signatures import webhook_public_key, webhook_signing_key
from fcsbe.server.security.secret_keyring import SecretKeyring

__all__ = ["ServerKeys"]

_ACTIVE = "signing-key.jwk"
_RETIRED = "retired-public-keys.json"


def _write_private(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle)


@dataclass(frozen=True)
class ServerKeys:
    """The active signing key and the public keys of retired ones."""

    private_jwk: dict[str, Any]
    retired: tuple[dict[str, Any], ...] = field(default=())

    @property
    def kid(self) -> str:
        return str(self.private_jwk["kid"])

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS to publish: the active key first, then retired ones."""
        return {"keys": [public_jwk(self.private_jwk), *self.retired]}

    def webhook_signing_key(self) -> str:
        """The active key as a Standard Webhooks `whsk_` key (signs `v1a` webhooks)."""
        return webhook_signing_key(self.private_jwk)

    def webhook_public_key(self) -> str:
        """The active key's public half as `whpk_` (verifies `v1a` webhooks)."""
        return webhook_public_key(self.private_jwk)

    def sign(self, payload: Any) -> str:
        """Detached JWS over the canonical JSON of `payload` with the active key."""
        return sign_detached(payload, self.private_jwk)

    @classmethod
    def directory(cls, data_dir: Path) -> Path:
        return data_dir / "keys"

    @classmethod
    def load(cls, data_dir: Path) -> ServerKeys | None:
        """The keys in `data_dir`, or None when none were created yet."""
        folder = cls.directory(data_dir)
        active = folder / _ACTIVE
        if not active.is_file():
            return None
        private = json.loads(active.read_text(encoding="utf-8"))
        retired_path = folder / _RETIRED
        retired = (
            json.loads(retired_path.read_text(encoding="utf-8")) if retired_path.is_file() else []
        )
        return cls(private_jwk=private, retired=tuple(retired))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> ServerKeys:
        """The keys in `data_dir`, creating a first key when there is none.

        Processes sharing `data_dir` (replicas on one volume) may call this together: the key
        is written to a private temporary file and linked into place, which only one of them
        can do; the others load the winner's key. So all of them sign with the same key.
        """
        existing = cls.load(data_dir)
        if existing is not None:
            return existing
        active = cls.directory(data_dir) / _ACTIVE
        draft = active.with_name(f".{_ACTIVE}.{os.getpid()}.{secrets.token_hex(4)}")
        _write_private(draft, generate_signing_key())
        try:
            os.link(draft, active)
        except FileExistsError:
            pass  # another process created it first: use theirs
        finally:
            draft.unlink()
        created = cls.load(data_dir)
        assert created is not None
        return created

    def rotate(self, data_dir: Path) -> ServerKeys:
        """Make a new active key; the old one's public half stays published.

        The secret-sealing key ring rotates with it (`security.secret_keyring`): one command
        renews every key of the server, and the next start re-seals stored secrets.
        """
        SecretKeyring.load_or_create(data_dir).rotate(data_dir)
        retired = (public_jwk(self.private_jwk), *self.retired)
        folder = self.directory(data_dir)
        key = generate_signing_key()
        _write_private(folder / _RETIRED, list(retired))
        _write_private(folder / _ACTIVE, key)
        return ServerKeys(private_jwk=key, retired=retired)
