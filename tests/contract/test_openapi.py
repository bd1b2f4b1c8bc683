"""Keep the halves in step: committed OpenAPI, client coverage of operations, public names."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

import fcsbe.client
import fcsbe.model
from fcsbe.cli import render_openapi
from fcsbe.cli.docs import client_operations

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_is_current() -> None:
    committed = (ROOT / "openapi" / "fcsbe.json").read_text(encoding="utf-8")
    assert committed == render_openapi(), "run `fcsbe openapi` and commit openapi/fcsbe.json"


def _operations() -> dict[str, str]:
    document = json.loads(render_openapi())
    found = {}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            found[op["operationId"]] = f"{method.upper()} {path}"
    return found


def test_every_operation_has_a_client_method() -> None:
    missing = {op: where for op, where in _operations().items() if op not in client_operations()}
    assert not missing, f"operations without a client method: {missing}"


def test_client_methods_name_real_operations() -> None:
    unknown = set(client_operations()) - set(_operations())
    assert not unknown, f"client methods for operations the server lacks: {unknown}"


def test_operation_ids_are_unique_and_snake_case() -> None:
    ids = list(_operations())
    assert all(op.replace("_", "").isalnum() and op.islower() for op in ids)


@pytest.mark.parametrize("module", [fcsbe.model, fcsbe.client])
def test_all_lists_the_public_names(module: object) -> None:
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", module.__name__).startswith(module.__name__)  # type: ignore[attr-defined]
    }
    exported = set(module.__all__)  # type: ignore[attr-defined]
    assert public <= exported, f"missing from __all__: {public - exported}"
    assert all(hasattr(module, name) for name in exported)
