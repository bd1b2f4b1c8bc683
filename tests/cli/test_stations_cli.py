"""`fcsbe admin stations import`: all-or-nothing, idempotent, errors with file, line and entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fcsbe.cli import app
from fcsbe.server.storage import migrations
from tests.support.registry_samples import sample_document

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("FCSBE_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("FCSBE_LOG_LEVEL", "WARNING")
    migrations.upgrade(f"sqlite+aiosqlite:///{path}")  # the server's database exists already
    return path


def test_import_then_reimport_changes_nothing(database: Path, tmp_path: Path) -> None:
    file = tmp_path / "stations.yaml"
    file.write_text(yaml.safe_dump(sample_document(), sort_keys=False), encoding="utf-8")
    first = runner.invoke(app, ["admin", "stations", "import", str(file)])
    assert first.exit_code == 0, first.output
    assert "imported" in first.output
    assert "evses: 7 new, 0 updated, 0 unchanged" in first.output
    second = runner.invoke(app, ["admin", "stations", "import", str(file)])
    assert second.exit_code == 0, second.output
    assert "already up to date" in second.output
    assert "evses: 0 new, 0 updated, 7 unchanged" in second.output


def test_bad_file_names_file_line_entry_and_field_and_imports_nothing(
    database: Path, tmp_path: Path
) -> None:
    document = sample_document()
    document["charging_stations"][2]["evses"][1]["max_discharge_power_w"] = 30000.0
    document["charging_stations"][3]["site_id"] = "site-atlantis"
    file = tmp_path / "broken.yaml"
    file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["admin", "stations", "import", str(file)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    text = file.read_text().splitlines()
    discharge = next(line for line in lines if "max_discharge_power_w" in line)
    number = int(discharge.split(":")[1])
    assert "max_discharge_power_w: 30000.0" in text[number - 1]
    assert discharge.startswith(f"{file}:{number}: charging station 'cs-park-1' > EVSE")
    assert any(
        "charging station 'cs-home-1': site_id: unknown site 'site-atlantis'" in x for x in lines
    )
    assert lines[-1] == f"{file}: 2 problem(s); nothing was imported"
    dry = tmp_path / "ok.json"
    dry.write_text(json.dumps(sample_document()), encoding="utf-8")
    check = runner.invoke(app, ["admin", "stations", "import", "--dry-run", str(dry)])
    assert check.exit_code == 0, check.output
    assert "would import" in check.output
    assert "sites: 3 new" in check.output


def test_unreadable_file_and_syntax_error(database: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["admin", "stations", "import", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2
    assert "cannot read" in missing.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"sites": [}', encoding="utf-8")
    result = runner.invoke(app, ["admin", "stations", "import", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:1: document: (root): not valid JSON" in result.output


def test_serve_refuses_several_workers_with_the_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FCSBE_DATABASE_URL", "postgresql+asyncpg://u@127.0.0.1:1/none")
    result = runner.invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "FCSBE_STATION_ADAPTER=ocpp or none" in result.output


def test_set_password_shows_it_once_and_stores_a_hash(database: Path, tmp_path: Path) -> None:
    import asyncio
    import os

    from fcsbe.server.security.station_passwords import verify_password
    from fcsbe.server.settings import Settings
    from fcsbe.server.storage.engine import create_engine, create_session_factory
    from fcsbe.server.storage.ocpp_stations import credential_hashes

    file = tmp_path / "stations.yaml"
    file.write_text(yaml.safe_dump(sample_document(), sort_keys=False), encoding="utf-8")
    assert runner.invoke(app, ["admin", "stations", "import", str(file)]).exit_code == 0
    shown = runner.invoke(app, ["admin", "stations", "set-password", "cs-home-1"])
    assert shown.exit_code == 0, shown.output
    cs_id, password = shown.output.split()
    assert cs_id == "cs-home-1"
    assert 16 <= len(password) <= 40
    refused = runner.invoke(app, ["admin", "stations", "set-password", "cs-nowhere"])
    assert refused.exit_code == 1
    assert "not in the registry: cs-nowhere" in refused.output
    passwords = tmp_path / "passwords.json"
    written = runner.invoke(
        app, ["admin", "stations", "set-password", "--missing", "--password-file", str(passwords)]
    )
    assert written.exit_code == 0, written.output
    issued = json.loads(passwords.read_text())
    assert "cs-home-1" not in issued  # it has one already
    assert len(issued) == len(sample_document()["charging_stations"]) - 1
    assert os.stat(passwords).st_mode & 0o777 == 0o600

    async def stored() -> dict[str, str]:
        engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
        async with create_session_factory(engine)() as db:
            hashes = await credential_hashes(db, ["cs-home-1", *issued])
        await engine.dispose()
        return hashes

    hashes = asyncio.run(stored())
    assert password not in hashes["cs-home-1"]
    assert verify_password(password, hashes["cs-home-1"])
    assert all(verify_password(p, hashes[cs]) for cs, p in issued.items())
