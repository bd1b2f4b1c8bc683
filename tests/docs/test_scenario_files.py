"""`examples/registry/*.yaml`: one registry file per simulated scenario, kept in step with it.

The scenario tests load these files; a failure here means a scenario changed: regenerate with
`fcsbe admin stations scenario NAME --output examples/registry/NAME.yaml`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fcsbe.cli import app
from fcsbe.server.adapters.scenario_registry import (
    SCENARIO_TITLES,
    registry_of,
    render_registry,
    scenario_fleet,
)
from fcsbe.server.services.registry.files import parse_text
from fcsbe.server.services.registry.registry import parse_document
from fcsbe.server.services.registry.rules import check_document

FILES = Path(__file__).resolve().parents[2] / "examples" / "registry"


@pytest.mark.parametrize("name", sorted(SCENARIO_TITLES))
def test_each_scenario_file_is_current_and_valid(name: str) -> None:
    path = FILES / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    assert text == render_registry(name), f"regenerate {path.name}"
    source = parse_text(text, path.name)
    assert source.issues == []
    document = parse_document(source.data)
    assert check_document(document) == []
    assert document == registry_of(scenario_fleet(name))


def test_every_file_belongs_to_a_scenario() -> None:
    assert {p.stem for p in FILES.glob("*.yaml")} == set(SCENARIO_TITLES)


def test_the_scenario_command_prints_and_writes(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(app, ["admin", "stations", "scenario", "uc-1.5"])
    assert printed.exit_code == 0
    assert printed.output == render_registry("uc-1.5")
    unknown = runner.invoke(app, ["admin", "stations", "scenario", "uc-9"])
    assert unknown.exit_code == 2


def test_the_example_in_the_registry_guide_is_a_valid_registry() -> None:
    guide = (FILES.parents[1] / "docs" / "registry.md").read_text(encoding="utf-8")
    example = guide.split("```yaml\n", 1)[1].split("```", 1)[0]
    source = parse_text(example, "docs/registry.md")
    assert source.issues == []
    document = parse_document(source.data)
    assert check_document(document) == []
    assert [len(c.evses) for c in document.charging_stations] == [2, 1]
    assert document.ev_models[0].onboard_inverter
