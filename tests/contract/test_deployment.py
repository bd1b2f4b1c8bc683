"""The deployment files agree with the code: settings, start order, health, migrations.

No container engine runs here; these read docker-compose.yml, the Dockerfile and .dockerignore
and check them against the real settings model, command line and routes, so that renaming a
setting or a route cannot silently break a deployment.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from fcsbe.cli import app as cli
from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
BUILT = [name for name, service in SERVICES.items() if "build" in service]
FCSBE_IMAGE = sorted(
    name
    for name, service in SERVICES.items()
    if service.get("image") == SERVICES[BUILT[0]]["image"]
)
REPLICAS = sorted(name for name in FCSBE_IMAGE if "command" not in SERVICES[name])


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {str(k): str(v) for k, v in environment.items()}


def test_the_image_runs_migrate_and_at_least_one_replica() -> None:
    assert "postgres" in SERVICES
    assert "migrate" in FCSBE_IMAGE
    assert "server" in REPLICAS
    assert SERVICES["migrate"]["command"] == ["fcsbe", "db", "upgrade"]
    assert SERVICES["migrate"]["restart"] == "no"


@pytest.mark.parametrize("name", FCSBE_IMAGE)
def test_every_fcsbe_variable_is_a_real_setting(name: str) -> None:
    settings = {f"FCSBE_{field.upper()}" for field in Settings.model_fields}
    named = {key for key in _environment(SERVICES[name]) if key.startswith("FCSBE_")}
    assert named, f"{name} configures nothing"
    assert named <= settings, f"{name}: unknown settings {sorted(named - settings)}"
    Settings.model_validate(
        {
            key.removeprefix("FCSBE_").lower(): v
            for key, v in _environment(SERVICES[name]).items()
            if not v.startswith("${")  # passed through from the operator's environment
        }
    )


@pytest.mark.parametrize("name", FCSBE_IMAGE)
def test_services_wait_for_a_healthy_database(name: str) -> None:
    depends = SERVICES[name]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in SERVICES["postgres"]


@pytest.mark.parametrize("name", REPLICAS)
def test_replicas_start_after_the_migration_completed(name: str) -> None:
    depends = SERVICES[name]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    env = _environment(SERVICES[name])
    assert env.get("FCSBE_AUTO_MIGRATE", "false").lower() == "false"
    assert env["FCSBE_DATABASE_URL"] == _environment(SERVICES["migrate"])["FCSBE_DATABASE_URL"]


@pytest.mark.parametrize("name", REPLICAS)
def test_replicas_are_health_checked_on_a_real_readiness_route(name: str) -> None:
    probe = " ".join(SERVICES[name]["healthcheck"]["test"])
    paths = set(create_app(Settings(log_level="WARNING")).openapi()["paths"])
    checked = re.findall(r"http://127\.0\.0\.1:8000(/[a-z]+)", probe)
    assert checked == ["/readyz"]
    assert "/readyz" in paths


def test_one_image_is_built_once_and_run_by_every_fcsbe_service() -> None:
    """Compose builds one image (the service with `build:` names it) and runs it everywhere."""
    assert BUILT == ["migrate"]
    assert SERVICES["migrate"]["image"]
    assert set(REPLICAS) | {"migrate"} == set(FCSBE_IMAGE)
    assert {"server", "worker"} <= set(FCSBE_IMAGE)


@pytest.mark.parametrize("name", FCSBE_IMAGE)
def test_every_fcsbe_service_shares_the_data_volume(name: str) -> None:
    """migrate creates the signing key there; server and worker sign with that same key."""
    data_dir = _environment(SERVICES[name])["FCSBE_DATA_DIR"]
    assert f"fcsbe-data:{data_dir}" in SERVICES[name]["volumes"]
    assert "fcsbe-data" in COMPOSE["volumes"]
    assert f'VOLUME ["{data_dir}"]' in DOCKERFILE
    for party_setting in ("FCSBE_SERVER_PARTY_ID", "FCSBE_SERVER_PARTY_COUNTRY"):
        env = _environment(SERVICES[name])
        assert env[party_setting] == _environment(SERVICES["migrate"])[party_setting]


def test_only_localhost_by_default_and_metrics_can_be_protected() -> None:
    """The API (and /metrics with it) is published on 127.0.0.1 unless the operator says
    otherwise; the metrics token is passed through, and empty means unset."""
    published = [port for name in REPLICAS for port in SERVICES[name].get("ports", [])]
    assert published == ["${FCSBE_PUBLISH:-127.0.0.1:8000}:8000"]
    for name in REPLICAS:
        assert _environment(SERVICES[name])["FCSBE_METRICS_TOKEN"] == "${FCSBE_METRICS_TOKEN:-}"
    assert Settings(metrics_token="").metrics_token is None  # type: ignore[arg-type]
    assert Settings(metrics_token="  ").metrics_token is None  # type: ignore[arg-type]


def test_the_commands_exist() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade", "--help"]).exit_code == 0
    serve = re.search(r'^CMD \["fcsbe", "serve", (.*)\]$', DOCKERFILE, re.MULTILINE)
    assert serve is not None
    assert '"--host", "0.0.0.0"' in serve.group(1)
    assert runner.invoke(cli, ["serve", "--help"]).exit_code == 0


def test_the_image_carries_what_fcsbe_db_upgrade_needs() -> None:
    copied = " ".join(re.findall(r"^COPY (.+)$", DOCKERFILE, re.MULTILINE))
    for needed in ("pyproject.toml", "README.md", "src", "alembic"):
        assert re.search(rf"(^|\s){re.escape(needed)}(\s|$)", copied), needed
    assert re.search(r'pip install .*"\.\[server\]"', DOCKERFILE)
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    assert wheel["targets"]["wheel"]["force-include"]["alembic"] == "fcsbe/_alembic"
    assert (ROOT / "alembic" / "env.py").is_file()


def test_dockerignore_keeps_what_the_image_copies() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not ignored & {"src", "alembic", "pyproject.toml", "README.md", "alembic.ini"}
    assert {".git", ".venv"} <= ignored
