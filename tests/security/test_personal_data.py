"""No field marked as personal data reaches an FO: read from the served OpenAPI and the
notification models, following every `$ref`.

FO-facing means every route under `/v1` except the EV user's own (`/v1/ev-user`), and every
notification body. Fields marked `x-personal-data-category` may reach an FO only where the server
filters them by the contract's categories; the filters are built from the same markers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from fcsbe.model import (
    NOTIFICATION_DATA_MODELS,
    Consent,
    DetailedServiceRecord,
    EvConnectedData,
    PersonalDataCategory,
)
from fcsbe.server.app import create_app
from fcsbe.server.security.personal_data import (
    CATEGORY,
    PERSONAL,
    category_fields,
    inventory_markdown,
    marked_fields,
)
from fcsbe.server.services.registry.sessions import SESSION_FIELDS
from fcsbe.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _resolve(document: Mapping[str, Any], ref: str) -> Any:
    """The schema a local `$ref` (`#/components/schemas/X`, `#/$defs/X`) points at."""
    assert ref.startswith("#/"), f"only local references are expected, got {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def marked_in(
    document: Mapping[str, Any],
    schema: Any,
    marker: str,
    where: str = "",
    seen: set[str] | None = None,
) -> list[str]:
    """Paths of the properties reachable from `schema` that carry `marker`, through `$ref`s,
    `anyOf`/`oneOf`/`allOf`, `items` and `additionalProperties`."""
    seen = set() if seen is None else seen
    found: list[str] = []
    if isinstance(schema, list):
        for item in schema:
            found += marked_in(document, item, marker, where, seen)
        return found
    if not isinstance(schema, dict):
        return found
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        seen.add(ref)
        name = ref.rsplit("/", 1)[-1]
        found += marked_in(document, _resolve(document, ref), marker, name, seen)
    for name, prop in (schema.get("properties") or {}).items():
        here = f"{where}.{name}"
        if isinstance(prop, dict) and marker in prop:
            found.append(here)
        found += marked_in(document, prop, marker, here, seen)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        found += marked_in(document, schema.get(key), marker, where, seen)
    for key in ("items", "additionalProperties", "not"):
        found += marked_in(document, schema.get(key), marker, where + "[]", seen)
    return found


def fo_responses(document: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(operation, response schema) of every route an FO may call."""
    for path, methods in document["paths"].items():
        if not path.startswith("/v1") or path.startswith("/v1/ev-user"):
            continue
        for method, operation in methods.items():
            for status, response in (operation.get("responses") or {}).items():
                for media in (response.get("content") or {}).values():
                    yield f"{method.upper()} {path} {status}", media.get("schema")


@pytest.fixture
async def served_openapi(tmp_path: Path) -> dict[str, Any]:
    """The OpenAPI document as the app serves it (no database needed to read it)."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        data_dir=tmp_path,
        log_level="WARNING",
        workers_enabled=False,
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://fcsbe") as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_no_fo_facing_response_carries_a_personal_field(served_openapi: dict[str, Any]) -> None:
    leaks = {
        where: fields
        for where, schema in fo_responses(served_openapi)
        if (fields := marked_in(served_openapi, schema, PERSONAL))
    }
    assert not leaks, f"personal data in FO-facing responses: {leaks}"
    assert sum(1 for _ in fo_responses(served_openapi)) > 40, "too few FO responses were read"


def test_no_notification_carries_a_personal_field() -> None:
    for kind, model in NOTIFICATION_DATA_MODELS.items():
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        assert not marked_in(schema, schema, PERSONAL), f"{kind}: personal data in notification"


def test_the_scanner_finds_a_personal_field_behind_references() -> None:
    document = {
        "paths": {
            "/v1/things": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Page"}
                                }
                            }
                        }
                    }
                }
            },
            "/v1/ev-user/me": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Driver"}
                                }
                            }
                        }
                    }
                }
            },
        },
        "components": {
            "schemas": {
                "Page": {
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}}
                    }
                },
                "Thing": {
                    "properties": {
                        "owner": {
                            "anyOf": [{"$ref": "#/components/schemas/Driver"}, {"type": "null"}]
                        }
                    }
                },
                "Driver": {
                    "properties": {
                        "emaid": {"type": "string", PERSONAL: True},
                        "next": {"$ref": "#/components/schemas/Driver"},
                    }
                },
            }
        },
    }
    found = {
        where: marked_in(document, schema, PERSONAL) for where, schema in fo_responses(document)
    }
    assert found == {"GET /v1/things 200": ["Driver.emaid"]}


def test_the_scanner_reads_real_markers() -> None:
    schema = Consent.model_json_schema(ref_template="#/$defs/{model}")
    assert sorted(marked_in(schema, schema, PERSONAL)) == [
        ".data_categories",
        ".limits",
        ".scope",
    ]


def test_category_fields_reach_an_fo_only_where_they_are_filtered(
    served_openapi: dict[str, Any],
) -> None:
    filtered = {f"EvSession.{f}" for fields in SESSION_FIELDS.values() for f in fields}
    filtered |= {f".{f}" for f in category_fields(EvConnectedData)}  # notification data
    # ... also as a component of the typed feed: session_sync minimises it per FO
    filtered |= {f"EvConnectedData.{f}" for f in category_fields(EvConnectedData)}
    filtered |= {f"DetailedServiceRecord.{f}" for f in category_fields(DetailedServiceRecord)}
    reached = {
        field
        for _, schema in fo_responses(served_openapi)
        for field in marked_in(served_openapi, schema, CATEGORY)
    }
    for model in NOTIFICATION_DATA_MODELS.values():
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        reached |= set(marked_in(schema, schema, CATEGORY))
    assert reached, "the session fields should be found"
    assert reached <= filtered, f"category fields shown unfiltered: {reached - filtered}"


def test_every_category_but_meter_values_has_session_fields() -> None:
    assert set(SESSION_FIELDS) == set(PersonalDataCategory) - {PersonalDataCategory.METER_VALUES}


def test_privacy_doc_lists_every_marked_field() -> None:
    doc = (ROOT / "docs" / "privacy.md").read_text(encoding="utf-8")
    assert inventory_markdown() in doc, "regenerate the inventory table in docs/privacy.md"
    assert any(item.marker == PERSONAL for item in marked_fields())
