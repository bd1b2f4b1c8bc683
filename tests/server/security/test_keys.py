"""The server's signing key on a volume shared by several processes: one key, whoever wins."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from fcsbe.server.security.keys import ServerKeys


def _kid(data_dir: str) -> str:
    return ServerKeys.load_or_create(Path(data_dir)).kid


def test_processes_creating_the_key_together_all_get_the_same_one(tmp_path: Path) -> None:
    """Replicas starting on an empty volume: every one signs with the key that is on disk."""
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        kids = pool.map(_kid, [str(tmp_path)] * 8)
    on_disk = ServerKeys.load(tmp_path)
    assert on_disk is not None
    assert set(kids) == {on_disk.kid}
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["signing-key.jwk"]
    assert (tmp_path / "keys" / "signing-key.jwk").stat().st_mode & 0o077 == 0
