"""docs/security.md lists every route that verifies `X-Fcsbe-Signature`, and only those."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fcsbe.cli import render_openapi
from fcsbe.server.api.openapi import signed_operations

ROOT = Path(__file__).resolve().parents[2]


def test_security_doc_lists_every_signed_route() -> None:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `((?:GET|POST|PUT|PATCH|DELETE) /[^`]+)` \|", text, re.MULTILINE)
    signed = signed_operations(json.loads(render_openapi()))
    assert sorted(listed) == sorted(signed), "update the signed-route table in docs/security.md"
