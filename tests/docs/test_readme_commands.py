"""The README's shell commands name settings and options that exist: a renamed setting or
option fails here instead of in a reader's terminal (the commands themselves run in the
scenario tests, e.g. tests/scenarios/test_ocpp_demo.py for the OCPP try-out)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer.main

from fcsbe.cli import app
from fcsbe.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEV_COMMANDS = set(re.findall(r"^  ([a-z]+)\)$", (ROOT / "scripts/dev.sh").read_text(), re.M))
SHELL = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _command(path: list[str]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def test_the_readme_sets_only_settings_that_exist() -> None:
    named = {m for block in SHELL for m in re.findall(r"\b(FCSBE_[A-Z0-9_]+)=", block)}
    known = {f"FCSBE_{name.upper()}" for name in Settings.model_fields}
    assert "FCSBE_STATION_ADAPTER" in named  # the OCPP try-out is there
    assert named <= known, named - known


def test_the_readme_passes_only_options_that_exist() -> None:
    checked = 0
    for block in SHELL:
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            words = [w for w in words if not re.match(r"^[A-Z_]+=", w)]
            if words[:2] == ["sh", "scripts/dev.sh"]:
                assert words[2] in DEV_COMMANDS, (line, DEV_COMMANDS)
                checked += 1
                continue
            if not words or not words[0].endswith("fcsbe"):
                continue
            path = [w for w in words[1:3] if not w.startswith("-")]
            command = _command(path)
            options = {o for p in command.params for o in p.opts}
            given = {w.split("=")[0] for w in words if w.startswith("--")}
            assert given <= options, (line, given - options)
            checked += 1
    assert checked >= 2
