"""The user guides name only settings and commands that exist.

docs/configuration.md holds the generated settings table (tests/server/api/test_workers.py checks
it); the guides link to it and name the settings most deployments set, so here every `FCSBE_*`
they mention must be a real setting, and every `fcsbe ...` command in their code must resolve to
a real command of the CLI.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from fcsbe.cli import app
from fcsbe.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
GUIDES = [
    ROOT / "docs" / "operator-guide.md",
    ROOT / "docs" / "aggregator-guide.md",
    ROOT / "README.md",
]
SETTINGS = {f"FCSBE_{name.upper()}" for name in Settings.model_fields}
NOT_SETTINGS = {
    "FCSBE_OPERATOR_TOKEN",
    "FCSBE_PUBLISH",
    "FCSBE_SERVER",
    "FCSBE_TEST_POSTGRES_DSN",
    "FCSBE_TEST_THOROUGH",
    "FCSBE_TEST_WORKERS",
    "FCSBE_VENV",
}


def _code(text: str) -> list[str]:
    """Fenced blocks and inline code spans."""
    fenced = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return fenced + inline


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_setting_named_exists(guide: Path) -> None:
    named = set(re.findall(r"FCSBE_[A-Z0-9_]+", guide.read_text(encoding="utf-8")))
    unknown = named - SETTINGS - NOT_SETTINGS
    assert not unknown, f"{guide.name} names settings that do not exist: {sorted(unknown)}"


def _resolve(words: list[str]) -> str | None:
    """None when `fcsbe <words...>` starts with a real command path, else the bad word."""
    command: Any = typer.main.get_command(app)
    for word in words:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:  # a command, not a group: arguments follow
            return None
        sub = subcommands.get(word)
        if sub is None:
            return word
        command = sub
    return None


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_command_shown_exists(guide: Path) -> None:
    found = 0
    for code in _code(guide.read_text(encoding="utf-8")):
        for match in re.finditer(r"(?:^|[\s/`])fcsbe((?: [a-z][a-z0-9-]*)+)", code, re.M):
            words = match.group(1).split()
            bad = _resolve(words)
            assert bad is None, f"{guide.name}: `fcsbe {' '.join(words)}`: no command {bad!r}"
            found += 1
    assert found or guide.name == "aggregator-guide.md"
