"""Keyed pseudonyms: a private key file made once, stable and unlinkable pseudonyms."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fcsbe.model import EvSession
from fcsbe.server.security.pseudonyms import KEY_FILE, Pseudonymizer


def test_key_file_is_private_and_reused(tmp_path: Path) -> None:
    first = Pseudonymizer.load_or_create(tmp_path)
    path = tmp_path / "keys" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Pseudonymizer.load_or_create(tmp_path).key == first.key
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]


def test_pseudonyms_are_stable_distinct_and_valid_session_refs(tmp_path: Path) -> None:
    pseudonyms = Pseudonymizer.load_or_create(tmp_path)
    ref = pseudonyms.session_ref("TX-1")
    assert ref == pseudonyms.session_ref("TX-1")
    assert ref != pseudonyms.session_ref("TX-2")
    assert ref.startswith("ps_")
    assert pseudonyms.subject_ref("TX-1").startswith("evu_")
    assert pseudonyms.consent_id("TX-1")[4:] != ref[3:]
    other = Pseudonymizer.load_or_create(tmp_path / "elsewhere")
    assert other.session_ref("TX-1") != ref
    EvSession.model_validate(
        {"session_ref": ref, "evse_id": "NL*ABC*E1*1", "connected_at": "2026-01-01T00:00:00Z"}
    )


def test_a_damaged_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / KEY_FILE).write_text("abcd")
    with pytest.raises(ValueError, match="32-byte key"):
        Pseudonymizer.load_or_create(tmp_path)
