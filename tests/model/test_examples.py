"""Every example shipped in the OpenAPI validates and survives a JSON round trip."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

import fcsbe.model as m
from tests.model.helpers import example, models_with_examples, public_models

# Request and response bodies of the API: each must carry one example (it ends up in OpenAPI).
TOP_LEVEL = [
    m.AvailabilityForecast,
    m.Capability,
    m.ChargingStation,
    m.Consent,
    m.ConsentGrant,
    m.ConsistencyProof,
    m.ContractAmendment,
    m.ContractDecision,
    m.ContractHolderLookupRequest,
    m.ContractHolderLookupResult,
    m.ContractProposal,
    m.ContractTermination,
    m.CredentialCheckRequest,
    m.CredentialCheckResult,
    m.CredentialsRotation,
    m.DetailedServiceRecord,
    m.Enrolment,
    m.EnrolmentRequest,
    m.EnrolmentResult,
    m.EvSession,
    m.EventLogEntry,
    m.FlexibilityService,
    m.FlexibilityServiceContract,
    m.FlexibilityServiceRequest,
    m.FlexibilityServiceResponse,
    m.FsAccepted,
    m.FsCancellation,
    m.HeartbeatRequest,
    m.HeartbeatResponse,
    m.InclusionProof,
    m.MeasurementSeries,
    m.Notification,
    m.Party,
    m.ProofOfWork,
    m.ProofValidationRequest,
    m.ReserveActivation,
    m.SetpointUpdate,
    m.SignedTreeHead,
    m.Site,
    m.VersionDetails,
    m.VersionList,
]

PAYLOADS = [
    m.SetpointSchedule,
    m.DemandResponseSignal,
    m.DroopSettings,
    m.FfrSettings,
    m.ReserveOffer,
    m.DynamicPriceSignal,
    m.CongestionLimits,
]


def _id(model: type[BaseModel]) -> str:
    return model.__name__


@pytest.mark.parametrize("model", TOP_LEVEL, ids=_id)
def test_top_level_model_has_an_example(model: type[BaseModel]) -> None:
    example(model)


@pytest.mark.parametrize("model", models_with_examples(), ids=_id)
def test_example_validates_and_round_trips(model: type[BaseModel]) -> None:
    instance = model.model_validate(example(model))
    assert model.model_validate_json(instance.model_dump_json()) == instance
    # The example is valid JSON as written (what OpenAPI shows) and also validates from text.
    assert model.model_validate_json(json.dumps(example(model))) == instance


@pytest.mark.parametrize("model", PAYLOADS, ids=_id)
def test_every_payload_has_an_example_that_fits_a_request(model: type[BaseModel]) -> None:
    payload = example(model)
    request = example(m.FlexibilityServiceRequest)
    request["fs_type"] = payload["fs_type"]
    request["parameters"] = payload
    parsed = m.FlexibilityServiceRequest.model_validate(request)
    assert isinstance(parsed.parameters, model)


@pytest.mark.parametrize("model", public_models(), ids=_id)
def test_schema_is_the_same_for_input_and_output(model: type[BaseModel]) -> None:
    """FastAPI would split a model into -Input/-Output schemas otherwise."""
    assert model.model_json_schema(mode="validation") == model.model_json_schema(
        mode="serialization"
    )


@pytest.mark.parametrize("model", public_models(), ids=_id)
def test_every_field_is_described(model: type[BaseModel]) -> None:
    undocumented = [name for name, field in model.model_fields.items() if not field.description]
    assert not undocumented, f"{model.__name__}: fields without description: {undocumented}"


@pytest.mark.parametrize("model", public_models(), ids=_id)
def test_every_model_has_a_docstring(model: type[BaseModel]) -> None:
    assert (model.__doc__ or "").strip()


def test_examples_use_realistic_identifiers() -> None:
    text = json.dumps([example(model) for model in models_with_examples()])
    assert "NL*ABC*E12345*1" in text  # eMI3 EVSE id
    assert '"crv": "Ed25519"' in text
