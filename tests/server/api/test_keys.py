"""Server signing keys: created once with private file permissions, rotated with overlap."""

from __future__ import annotations

import stat
from pathlib import Path

from fcsbe.model import verify_detached
from fcsbe.server.security.keys import ServerKeys


def test_create_load_sign_rotate(tmp_path: Path) -> None:
    assert ServerKeys.load(tmp_path) is None
    keys = ServerKeys.load_or_create(tmp_path)
    key_file = ServerKeys.directory(tmp_path) / "signing-key.jwk"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert ServerKeys.load_or_create(tmp_path).kid == keys.kid
    signature = keys.sign({"fs_id": "fs-1"})
    assert all("d" not in k for k in keys.public_jwks()["keys"])
    rotated = keys.rotate(tmp_path)
    assert rotated.kid != keys.kid
    reloaded = ServerKeys.load(tmp_path)
    assert reloaded is not None
    assert reloaded.kid == rotated.kid
    # A signature made before the rotation still verifies against the published JWKS.
    assert verify_detached(signature, {"fs_id": "fs-1"}, reloaded.public_jwks()) == keys.kid
