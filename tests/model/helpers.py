"""Helpers for the model tests: enumerate the public models and fetch their examples."""

from __future__ import annotations

import copy
import inspect
from typing import Any

from pydantic import BaseModel

import fcsbe.model
from fcsbe.model import InputModel, OutputModel


def public_models() -> list[type[BaseModel]]:
    """Every pydantic model exported by `fcsbe.model` (generic `Page` excluded)."""
    found = []
    for name in fcsbe.model.__all__:
        value = getattr(fcsbe.model, name)
        if (
            inspect.isclass(value)
            and issubclass(value, BaseModel)
            and value not in (InputModel, OutputModel, fcsbe.model.Page)
        ):
            found.append(value)
    return found


def example_of(model: type[BaseModel]) -> dict[str, Any] | None:
    """A deep copy of the model's own JSON example, or None when it has none."""
    extra = model.model_config.get("json_schema_extra")
    if not isinstance(extra, dict) or "examples" not in extra:
        return None
    examples = extra["examples"]
    assert isinstance(examples, list)
    assert len(examples) == 1, f"{model.__name__} must carry exactly one example"
    return copy.deepcopy(examples[0])  # type: ignore[arg-type]


def models_with_examples() -> list[type[BaseModel]]:
    return [m for m in public_models() if example_of(m) is not None]


def input_models_with_examples() -> list[type[BaseModel]]:
    return [m for m in models_with_examples() if issubclass(m, InputModel)]


def example(model: type[BaseModel]) -> dict[str, Any]:
    """The model's example; fails the test when it has none."""
    found = example_of(model)
    assert found is not None, f"{model.__name__} has no example"
    return found
