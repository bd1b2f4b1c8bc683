"""The personal-data markers of the shared model, read back: what the inventory lists and what
the FO may be shown.

Fields of `fcsbe.model` carry one of three OpenAPI extensions (docs/privacy.md, "Markers"):

- `x-personal-data: true`: personal data or a raw EV/user identifier that no FO-facing response
  or notification may carry (the privacy tests read the served OpenAPI for them);
- `x-pseudonym: true`: a keyed pseudonym (`session_ref`, `subject_ref`), which an FO may see;
- `x-personal-data-category: <PersonalDataCategory>`: personal data about a pseudonymous session
  that an FO sees only when its contract names that category (`category_fields` is what the
  session views and notifications filter with, so the marker is the rule, not a comment).
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

from pydantic import BaseModel

import fcsbe.model
from fcsbe.model import PersonalDataCategory

__all__ = [
    "CATEGORY",
    "PERSONAL",
    "PSEUDONYM",
    "MarkedField",
    "category_fields",
    "inventory_markdown",
    "marked_fields",
]

PERSONAL = "x-personal-data"
PSEUDONYM = "x-pseudonym"
CATEGORY = "x-personal-data-category"


class MarkedField(NamedTuple):
    """One marked field of one model."""

    model: str
    field: str
    marker: str
    """`x-personal-data`, `x-pseudonym` or `x-personal-data-category`."""
    category: PersonalDataCategory | None
    description: str


def _extra(model: type[BaseModel], name: str) -> dict[str, object]:
    extra = model.model_fields[name].json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def category_fields(model: type[BaseModel]) -> dict[str, PersonalDataCategory]:
    """The fields of `model` marked `x-personal-data-category`, with their category."""
    found: dict[str, PersonalDataCategory] = {}
    for name in model.model_fields:
        category = _extra(model, name).get(CATEGORY)
        if isinstance(category, str):
            found[name] = PersonalDataCategory(category)
    return found


def _models() -> list[type[BaseModel]]:
    """Every pydantic model `fcsbe.model` exports, by name."""
    found = [getattr(fcsbe.model, name) for name in sorted(fcsbe.model.__all__)]
    return [m for m in found if inspect.isclass(m) and issubclass(m, BaseModel)]


def marked_fields() -> list[MarkedField]:
    """Every marked field of the exported models, sorted by model and field."""
    found: list[MarkedField] = []
    for model in _models():
        for name, info in model.model_fields.items():
            extra = _extra(model, name)
            description = (info.description or "").strip()
            if extra.get(PERSONAL) is True:
                found.append(MarkedField(model.__name__, name, PERSONAL, None, description))
            if extra.get(PSEUDONYM) is True:
                found.append(MarkedField(model.__name__, name, PSEUDONYM, None, description))
            category = extra.get(CATEGORY)
            if isinstance(category, str):
                found.append(
                    MarkedField(
                        model.__name__,
                        name,
                        CATEGORY,
                        PersonalDataCategory(category),
                        description,
                    )
                )
    return sorted(found)


_SHOWN = {
    PERSONAL: "never to an FO",
    PSEUDONYM: "pseudonym: FO may see it",
    CATEGORY: "FO at SESSION level, if the contract names `{}`",
}


def inventory_markdown() -> str:
    """The data-inventory table of docs/privacy.md, generated from the markers."""
    lines = ["| Model | Field | Marker | Who may see it | Description |", "|---|---|---|---|---|"]
    for item in marked_fields():
        shown = _SHOWN[item.marker].format(item.category.value if item.category else "")
        description = item.description.replace("|", "\\|")
        lines.append(
            f"| `{item.model}` | `{item.field}` | `{item.marker}` | {shown} | {description} |"
        )
    return "\n".join(lines) + "\n"
