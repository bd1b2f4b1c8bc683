"""`fcsbe admin ...` on a fresh embedded database: party, operator tokens, enrolment tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcsbe.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "FCSBE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'admin.db'}",
        "FCSBE_DATA_DIR": str(tmp_path / "var"),
        "FCSBE_LOG_LEVEL": "WARNING",
    }


def admin(env: dict[str, str], *args: str, code: int = 0) -> str:
    """`fcsbe admin --init ARGS`: these tests start from no database at all."""
    result = runner.invoke(app, ["admin", "--init", *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_a_missing_database_is_not_created_without_init(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Run outside the server's folder, a command says so instead of making a new database."""
    result = runner.invoke(app, ["admin", "enrolment-token", "create", "--fo-name", "x"], env=env)
    assert result.exit_code == 2, result.output
    assert "FCSBE_DATABASE_URL: no database at" in result.output
    assert "party init" not in result.output
    assert not (tmp_path / "admin.db").exists()
    created = runner.invoke(
        app,
        [
            "admin",
            "--init",
            "party",
            "init",
            "--party-id",
            "NL-ABC",
            "--name",
            "A",
            "--country",
            "NL",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert (tmp_path / "admin.db").exists()


def test_party_and_operator_tokens(env: dict[str, str], tmp_path: Path) -> None:
    before_init = admin(env, "enrolment-token", "create", "--fo-name", "x", code=1)
    assert "fcsbe admin party init" in before_init
    out = admin(env, "party", "init", "--party-id", "NL-ABC", "--name", "ABC", "--country", "nl")
    token = out.strip().splitlines()[-1]
    assert token.startswith("fcsbe_op_")
    assert (tmp_path / "var" / "keys" / "signing-key.jwk").stat().st_mode & 0o077 == 0
    # Re-running updates the details but issues no new token; the id cannot change.
    again = admin(
        env, "party", "init", "--party-id", "NL-ABC", "--name", "ABC N.V.", "--country", "NL"
    )
    assert "updated" in again
    assert "fcsbe_op_" not in again
    assert "server-party-exists" in admin(
        env, "party", "init", "--party-id", "NL-XYZ", "--name", "x", "--country", "NL", code=1
    )
    assert "party-role-invalid" in admin(
        env,
        "party",
        "init",
        "--party-id",
        "NL-ABC",
        "--name",
        "x",
        "--country",
        "NL",
        "--role",
        "FO",
        code=1,
    )
    shown = json.loads(admin(env, "party", "show"))
    assert (shown["party_id"], shown["legal_name"], shown["roles"]) == (
        "NL-ABC",
        "ABC N.V.",
        ["CSO"],
    )
    old_kid = shown["jwks"]["keys"][0]["kid"]
    admin(env, "party", "rotate-key")
    rotated = json.loads(admin(env, "party", "show"))["jwks"]["keys"]
    assert len(rotated) == 2
    assert rotated[1]["kid"] == old_kid  # the retired key stays published

    created = admin(env, "operator-token", "create", "--ttl", "90d")
    credential_id = created.split()[2].rstrip(";")
    listed = admin(env, "operator-token", "list")
    assert listed.count("active") == 2
    admin(env, "operator-token", "revoke", credential_id)
    assert "revoked" in admin(env, "operator-token", "list")
    assert "credential-not-found" in admin(env, "operator-token", "revoke", "op_nope", code=1)


def test_enrolment_tokens_enrolments_and_contracts(env: dict[str, str]) -> None:
    admin(env, "party", "init", "--party-id", "NL-ABC", "--name", "ABC", "--country", "NL")
    issued = json.loads(
        admin(
            env,
            "enrolment-token",
            "create",
            "--fo-name",
            "Flexa",
            "--ttl",
            "12h",
            "--party-id",
            "NL-FLX",
            "--scope",
            "contracts",
            "--scope",
            "credential-checks",
            "--json",
        )
    )
    assert issued["token"].startswith("fcsbe_et_")
    assert issued["scopes"] == ["contracts", "credential-checks"]
    assert issued["party_id"] == "NL-FLX"
    assert "not a duration" in admin(
        env, "enrolment-token", "create", "--fo-name", "x", "--ttl", "soon", code=2
    )
    assert "unknown scope" in admin(
        env, "enrolment-token", "create", "--fo-name", "x", "--scope", "root", code=2
    )
    assert admin(env, "enrolments", "list") == ""
    assert admin(env, "contracts", "list", "--json").strip() == "[]"
    assert "contract-not-found" in admin(env, "contracts", "accept", "fsc-none", code=1)
    assert "enrolment-not-found" in admin(env, "enrolments", "revoke", "enr_none", code=1)
    assert "Invalid value" in admin(env, "contracts", "list", "--status", "BOGUS", code=2)


def test_ev_users_invite_list_and_erase(env: dict[str, str], tmp_path: Path) -> None:
    from fcsbe import cli

    admin(env, "party", "init", "--party-id", "NL-ABC", "--name", "ABC", "--country", "NL")
    out = admin(env, "ev-users", "invite", "NL-ABC-C12345678", "--expires-in", "2h",
                "--base-url", "https://cso.example")  # fmt: skip
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://cso.example/app/#invite=fcsbe_iv_")
    assert "created" in out
    assert "known" in admin(env, "ev-users", "invite", "NL-ABC-C12345678")
    (listed,) = json.loads(admin(env, "ev-users", "list", "--json"))
    assert listed["consent_level"] == "V1G"
    assert listed["subject_ref"].startswith("evu_")
    database = (tmp_path / "admin.db").read_bytes()
    assert b"NL-ABC-C12345678" not in database, "the identifier is kept only as a keyed hash"
    assert link.split("=", 1)[1].encode() not in database, "the link's code only as a hash"
    assert "ev-user-not-found" in admin(env, "ev-users", "erase", "NL-ABC-OTHER", code=1)

    erased = json.loads(admin(env, "ev-users", "erase", "NL-ABC-C12345678", "--json"))
    assert erased["user_id"] == listed["user_id"]
    assert erased["removed"]["keys"] == 1
    assert erased["removed"]["invites"] == 2
    assert json.loads(admin(env, "ev-users", "list", "--json")) == []
    # The event log (it recorded the invitations and the erasure) still verifies.
    verified = runner.invoke(cli.app, ["admin", "event-log", "verify", "--json"], env=env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["intact"] is True
