"""docs/flexibility-services.md describes the lifecycle the code enforces: its transition table
must say exactly what `services/flexibility_services/lifecycle.py` `TRANSITIONS` allows."""

from __future__ import annotations

import re
from pathlib import Path

from fcsbe.model import FsState
from fcsbe.server.services.flexibility_services.lifecycle import TRANSITIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "flexibility-services.md"


def _doc_table() -> dict[FsState, frozenset[FsState]]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("<!-- transition-table")
    table: dict[FsState, frozenset[FsState]] = {}
    for line in text[start:].splitlines()[3:]:
        if not line.startswith("|"):
            break
        source, targets = line.split("|")[1:3]
        names = re.findall(r"`([A-Z_]+)`", targets)
        (state,) = re.findall(r"`([A-Z_]+)`", source)
        table[FsState(state)] = frozenset(FsState(n) for n in names)
    return table


def test_the_doc_transition_table_is_the_codes() -> None:
    assert _doc_table() == TRANSITIONS


def test_the_state_diagram_names_every_state() -> None:
    text = DOC.read_text(encoding="utf-8")
    diagram = text[text.index("stateDiagram-v2") : text.index("```", text.index("stateDiagram"))]
    assert {s.value for s in FsState} <= set(re.findall(r"[A-Z_]{4,}", diagram))
