"""`client.registry.import_stations`: the operator's import over HTTP, same rules as the CLI."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient, PermissionDeniedError, UnprocessableEntityError
from fcsbe.model import RegistryDocument
from tests.support.factories import make_fo, make_operator
from tests.support.registry_samples import sample_document


async def test_operator_imports_and_reimports(app: FastAPI, client: FcsbeClient) -> None:
    client.token = await make_operator(app.state.session_factory)
    dry = await client.registry.import_stations(sample_document(), dry_run=True)
    assert dry.dry_run
    assert dry.evses.created == 7
    first = await client.registry.import_stations(
        RegistryDocument.model_validate(sample_document())
    )
    assert (first.changed, first.sites.created, first.evses.created) == (True, 3, 7)
    again = await client.registry.import_stations(sample_document())
    assert not again.changed
    assert again.evses.unchanged == 7


async def test_refusal_lists_every_problem_with_pointer_and_entry(
    app: FastAPI, client: FcsbeClient
) -> None:
    client.token = await make_operator(app.state.session_factory)
    document = sample_document()
    document["charging_stations"][2]["evses"][1]["max_discharge_power_w"] = 5000.0
    document["sites"][0]["grid_connection"]["import_limit_kw"] = 3
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.registry.import_stations(document)
    problem = caught.value.problem
    assert problem is not None
    assert problem.slug == "registry-rejected"
    errors = {e.pointer: e for e in problem.errors or []}
    assert set(errors) == {"/body/sites/0/grid_connection/import_limit_kw"}
    assert errors["/body/sites/0/grid_connection/import_limit_kw"].detail.startswith(
        "site 'site-depot': grid_connection.import_limit_kw: Extra inputs are not permitted"
    )
    del document["sites"][0]["grid_connection"]["import_limit_kw"]
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.registry.import_stations(document)
    (error,) = caught.value.problem.errors or []  # type: ignore[union-attr]
    assert error.pointer == "/body/charging_stations/2/evses/1/max_discharge_power_w"
    assert error.code == "discharge_without_v2g"
    assert "charging station 'cs-park-1' > EVSE 'NL*ABC*E2001*2'" in error.detail


async def test_only_the_operator_may_import(app: FastAPI, client: FcsbeClient) -> None:
    client.token = await make_fo(app.state.session_factory)
    with pytest.raises(PermissionDeniedError):
        await client.registry.import_stations(sample_document())
