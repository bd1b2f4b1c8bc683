"""Secrets the server must keep readable (webhook HMAC secrets), sealed at rest with its own key.

A `v1` webhook secret is shared with the FO and the server needs it in clear to sign, so it
cannot be hashed like a token. It is stored sealed (AES-256-GCM, `security.sealing`) under the
server's secret-sealing key, a random 256-bit key kept in a file (mode 0600) under
`FCSBE_DATA_DIR/keys/`, never in the database: a copy of the database alone (a backup, a dump,
a read-only SQL injection) does not reveal the secrets.

The keys form a ring: one active key seals, every key opens. Rotation (`fcsbe admin party
rotate-key`, which also rotates the signing key) adds a new active key and keeps the old ones;
the server re-seals every stored secret under the active key when it starts
(`services.webhook_endpoints.reseal_secrets`), after which retired keys may be removed with
`prune`. A stored value names its key: `s1:<key id>:<base64url>`. A value without that prefix
is a secret stored in clear by an older release; it is still read, and re-sealed at the start.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from fcsbe.server.security.sealing import SecretSealer

__all__ = ["PREFIX", "SecretKeyring", "SecretKeyringError"]

PREFIX = "s1:"
_FILE = "secret-sealing-keys.json"
_LABEL = b"fcsbe/secret-at-rest/v1"


class SecretKeyringError(RuntimeError):
    """A stored secret cannot be opened (its key is gone, or the value was altered)."""


def _write_private(path: Path, text: str) -> None:
    """Write `text` to a 0600 file atomically (a crash never leaves a half-written ring)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


@dataclass(frozen=True)
class SecretKeyring:
    """The active sealing key's id and every key by id (base64url, 32 bytes each)."""

    active: str
    keys: dict[str, str]

    @staticmethod
    def path(data_dir: Path) -> Path:
        return data_dir / "keys" / _FILE

    @classmethod
    def load(cls, data_dir: Path) -> SecretKeyring | None:
        """The ring in `data_dir`, or None when none was created yet."""
        path = cls.path(data_dir)
        if not path.is_file():
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
        return cls(active=str(document["active"]), keys=dict(document["keys"]))

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SecretKeyring:
        """The ring in `data_dir`, creating it with one key when there is none."""
        existing = cls.load(data_dir)
        if existing is not None:
            return existing
        return cls._save(data_dir, cls._with_new_key({}))

    @staticmethod
    def _with_new_key(keys: dict[str, str]) -> SecretKeyring:
        kid = secrets.token_hex(4)
        while kid in keys:
            kid = secrets.token_hex(4)
        material = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        return SecretKeyring(active=kid, keys={**keys, kid: material})

    @classmethod
    def _save(cls, data_dir: Path, ring: SecretKeyring) -> SecretKeyring:
        _write_private(cls.path(data_dir), json.dumps({"active": ring.active, "keys": ring.keys}))
        return ring

    def rotate(self, data_dir: Path) -> SecretKeyring:
        """A new active key; the previous ones keep opening what they sealed."""
        return self._save(data_dir, self._with_new_key(self.keys))

    def prune(self, data_dir: Path) -> SecretKeyring:
        """Drop every key but the active one (once all secrets are re-sealed)."""
        return self._save(
            data_dir, SecretKeyring(self.active, {self.active: self.keys[self.active]})
        )

    def _sealer(self, kid: str) -> SecretSealer:
        return SecretSealer(self.keys[kid], label=_LABEL)

    def seal(self, secret: str) -> str:
        """`secret` sealed under the active key, as stored."""
        sealed = self._sealer(self.active).seal(secret.encode("utf-8"))
        return f"{PREFIX}{self.active}:{base64.urlsafe_b64encode(sealed).decode().rstrip('=')}"

    def open(self, stored: str) -> str:
        """The secret a stored value holds (a value stored in clear is returned as it is)."""
        if not stored.startswith(PREFIX):
            return stored
        kid, _, body = stored[len(PREFIX) :].partition(":")
        if kid not in self.keys:
            raise SecretKeyringError(f"the secret-sealing key {kid} is not in the key ring")
        opened = self._sealer(kid).open(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if opened is None:
            raise SecretKeyringError(f"a secret sealed under key {kid} does not open")
        return opened.decode("utf-8")

    def is_current(self, stored: str) -> bool:
        """Whether a stored value is sealed under the active key (nothing to re-seal)."""
        return stored.startswith(f"{PREFIX}{self.active}:")
