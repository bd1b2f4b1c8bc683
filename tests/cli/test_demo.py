"""`fcsbe demo` against a real server: `fcsbe serve` in a child process on a free loopback port,
with its own SQLite database and data folder, as a user would run it after the quick start.

The demo runs in this process through the real command line; it finds the server's database
through FCSBE_DATABASE_URL, as it does in the server's folder, and makes (then revokes) its own
short-lived operator credential there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcsbe.cli import app
from fcsbe.demo.plan import EXCLUSIVE, PREFERRED_SITES, assign_sites, plan_services
from fcsbe.model import FsType
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_reachable,
)
from tests.support.served import Served, free_port, serve

runner = CliRunner()

DEMO_SITES = ["SITE-CARPARK", "SITE-DEPOT", "SITE-EC", "SITE-EVSS", "SITE-HOME-1"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`fcsbe serve` as `sh scripts/dev.sh serve` starts it (loopback callbacks allowed)."""
    with serve(tmp_path) as server:
        yield server


@pytest.mark.slow
def test_the_demo_runs_the_whole_story(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in served.env.items():
        monkeypatch.setenv(name, value)
    plots = tmp_path / "plots"
    args = ["demo", "--server", served.url, "--window", "8", "--plots", str(plots)]
    result = runner.invoke(app, args)
    output = result.output
    assert result.exit_code == 0, output + "\n--- server log ---\n" + served.log.read_text()
    assert "all steps passed" in output
    assert "Flexibility services" in output
    for fs_type in FsType:
        assert fs_type.value in output
    assert output.count("PROVEN") >= len(FsType)
    assert "pushed and signature-verified" in output
    # The records settle against a baseline: at least one FS delivered measurable energy.
    delivered = [float(v) for v in re.findall(r"(-?\d+\.\d) Wh", output)]
    assert any(abs(v) > 0 for v in delivered), output
    # The droop and the FFR leave their ordered vs delivered plots.
    assert sorted(p.suffix for p in plots.iterdir()) == [".svg", ".svg"]
    listed = runner.invoke(app, ["admin", "operator-token", "list"])
    assert "active" not in listed.output, "the demo's operator credential is revoked"
    assert "revoked" in listed.output


@pytest.mark.slow
def test_the_demo_runs_on_postgresql_set_up_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's PostgreSQL path: a plain `postgresql://` URL, `fcsbe db upgrade` (schema,
    party and key), `fcsbe serve`, then the demo from the same environment."""
    why = postgres_reachable()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {why}")
        pytest.skip(f"PostgreSQL not reachable: {why}")
    name, url = create_postgres_database("fcsbe_demo")
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    settings = {"FCSBE_DATABASE_URL": plain, "FCSBE_DATA_DIR": str(tmp_path / "var")}
    try:
        upgraded = subprocess.run(
            [sys.executable, "-m", "fcsbe.cli", "db", "upgrade"],
            env={**os.environ, **settings},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert upgraded.returncode == 0, upgraded.stderr
        with serve(tmp_path, **settings) as server:
            for key, value in server.env.items():
                monkeypatch.setenv(key, value)
            result = runner.invoke(app, ["demo", "--server", server.url, "--window", "8"])
            assert result.exit_code == 0, result.output + "\n" + server.log.read_text()
        assert "all steps passed" in result.output
    finally:
        drop_postgres_database(name)


def test_the_demo_fails_when_no_server_answers(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(
        app, ["demo", "--server", url, "--operator-token", "fcsbe_op_x", "--timeout", "1"]
    )
    assert result.exit_code == 1, result.output
    assert "the demo failed" in result.output
    assert "Discover the server" in result.output


def test_the_demo_needs_an_operator_token_or_the_server_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FCSBE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'none.db'}")
    monkeypatch.delenv("FCSBE_OPERATOR_TOKEN", raising=False)
    result = runner.invoke(app, ["demo", "--server", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "--operator-token" in result.output
    assert not (tmp_path / "none.db").exists(), "the command must not create a database"


def test_sites_suit_each_type_and_exclusive_types_never_share() -> None:
    everywhere = {fs_type: set(DEMO_SITES) for fs_type in FsType}
    assignment = assign_sites(DEMO_SITES, everywhere)
    assert assignment == {t: PREFERRED_SITES[t][0] for t in FsType}
    exclusive_sites = [assignment[t] for t in EXCLUSIVE]
    assert len(set(exclusive_sites)) == len(exclusive_sites)

    # Droop and FFR only where stations are certified and discharge: they must not collide.
    narrow = {**everywhere, FsType.DROOP: {"SITE-CARPARK"}, FsType.FFR: {"SITE-CARPARK", "SITE-EC"}}
    chosen = assign_sites(DEMO_SITES, narrow)
    assert (chosen[FsType.DROOP], chosen[FsType.FFR]) == ("SITE-CARPARK", "SITE-EC")


def test_a_type_without_a_capable_site_is_named() -> None:
    capable = {fs_type: {"SITE-A"} for fs_type in FsType}
    named = r"no site can take a (SETPOINT|DROOP|FFR|DYNAMIC_PRICE) FS"
    with pytest.raises(ValueError, match=named):
        assign_sites(["SITE-A"], capable)  # four exclusive types, one site


def test_every_planned_request_is_valid_for_short_windows() -> None:
    from datetime import UTC, datetime

    assignment = assign_sites(DEMO_SITES, {t: set(DEMO_SITES) for t in FsType})
    for window_s in (6, 15, 61):
        for planned in plan_services(assignment, window_s):
            request = planned.request("fs-1", "fsc-1", datetime.now(UTC), window_s)
            assert request.fs_type is planned.fs_type
            assert request.parameters.horizon_s() <= window_s


def test_a_production_server_refuses_the_demo_s_loopback_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secure by default: `fcsbe serve` without the dev settings refuses loopback callbacks,
    and the demo says how to run it instead of failing obscurely."""
    production = {
        "FCSBE_ALLOW_LOOPBACK_CALLBACKS": "false",
        "FCSBE_WEBHOOK_ALLOW_LOOPBACK": "false",
        "FCSBE_WEBHOOK_REQUIRE_HTTPS": "true",
    }
    with serve(tmp_path, **production) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        result = runner.invoke(app, ["demo", "--server", server.url, "--timeout", "5"])
    assert result.exit_code == 1, result.output
    assert "refused the callback URL" in result.output
    assert "scripts/dev.sh serve" in result.output
    assert "--callback-url" in result.output
