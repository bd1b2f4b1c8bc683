"""Input models refuse what they do not know; the FS payload must match the FS type."""

from __future__ import annotations

import itertools

import pytest
from pydantic import BaseModel, ValidationError

import fcsbe.model as m
from tests.model.helpers import example, input_models_with_examples, public_models

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


@pytest.mark.parametrize("model", input_models_with_examples(), ids=_id)
def test_unknown_field_is_refused(model: type[BaseModel]) -> None:
    body = example(model)
    body["unexpected_field"] = 1
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    assert caught.value.errors()[0]["type"] == "extra_forbidden"
    assert caught.value.errors()[0]["loc"] == ("unexpected_field",)


def test_unknown_nested_field_is_refused() -> None:
    body = example(m.FlexibilityServiceRequest)
    body["window"]["timezone"] = "Europe/Amsterdam"
    with pytest.raises(ValidationError) as caught:
        m.FlexibilityServiceRequest.model_validate(body)
    assert caught.value.errors()[0]["loc"] == ("window", "timezone")


@pytest.mark.parametrize(
    "model", [x for x in public_models() if issubclass(x, m.OutputModel)], ids=_id
)
def test_output_models_ignore_unknown_fields(model: type[BaseModel]) -> None:
    assert model.model_config.get("extra") == "ignore"


def test_output_model_decodes_a_newer_server_body() -> None:
    body = example(m.FsAccepted)
    body["added_in_v1_1"] = {"anything": True}
    assert m.FsAccepted.model_validate(body).fs_id == example(m.FsAccepted)["fs_id"]


@pytest.mark.parametrize(
    ("declared", "payload"),
    list(itertools.product(PAYLOADS, PAYLOADS)),
    ids=lambda x: x.__name__,
)
def test_fs_type_must_match_the_payload(
    declared: type[BaseModel], payload: type[BaseModel]
) -> None:
    request = example(m.FlexibilityServiceRequest)
    request["fs_type"] = example(declared)["fs_type"]
    request["parameters"] = example(payload)
    if declared is payload:
        m.FlexibilityServiceRequest.model_validate(request)
        return
    with pytest.raises(ValidationError, match=r"parameters\.fs_type .* must equal fs_type"):
        m.FlexibilityServiceRequest.model_validate(request)


def test_payload_without_tag_is_refused() -> None:
    request = example(m.FlexibilityServiceRequest)
    del request["parameters"]["fs_type"]
    with pytest.raises(ValidationError) as caught:
        m.FlexibilityServiceRequest.model_validate(request)
    assert caught.value.errors()[0]["type"] == "union_tag_not_found"


def test_payload_with_unknown_tag_is_refused() -> None:
    request = example(m.FlexibilityServiceRequest)
    request["parameters"]["fs_type"] = "CAPACITY"
    with pytest.raises(ValidationError) as caught:
        m.FlexibilityServiceRequest.model_validate(request)
    assert caught.value.errors()[0]["type"] == "union_tag_invalid"


def test_parameters_union_picks_the_tagged_model() -> None:
    request = m.FlexibilityServiceRequest.model_validate(example(m.FlexibilityServiceRequest))
    assert isinstance(request.parameters, m.SetpointSchedule)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="UTC offset"):
        m.TimeWindow.model_validate({"start": "2026-03-02T17:00:00", "end": "2026-03-02T18:00:00"})


@pytest.mark.parametrize("number", [0, 1_767_225_600, 1.5])
def test_a_number_is_not_a_time(number: float) -> None:
    """The schema says an RFC 3339 string; pydantic alone would read 0 as 1970-01-01."""
    with pytest.raises(ValidationError, match="RFC 3339 string"):
        m.ContractHolderLookupRequest.model_validate_json(
            f'{{"at": {number}, "target": {{"level": "CS", "id": "cs-1"}}}}'
        )
    with pytest.raises(ValidationError, match="RFC 3339 string"):
        m.TimeWindow.model_validate({"start": number, "end": "2026-03-02T18:00:00Z"})


def test_times_are_normalised_to_utc_with_z() -> None:
    window = m.TimeWindow.model_validate(
        {"start": "2026-03-02T18:00:00+01:00", "end": "2026-03-02T19:00:00+01:00"}
    )
    assert window.model_dump(mode="json") == {
        "start": "2026-03-02T17:00:00Z",
        "end": "2026-03-02T18:00:00Z",
    }


def test_non_finite_numbers_are_refused() -> None:
    body = example(m.SetpointUpdate)
    body["p_w"] = float("nan")
    with pytest.raises(ValidationError):
        m.SetpointUpdate.model_validate(body)


@pytest.mark.parametrize("when", [0, 1_772_470_800, 1.5e9])
def test_a_number_is_not_a_time_in_an_fs_window(when: float) -> None:
    """The schema says an RFC 3339 string; pydantic alone would read a number as a Unix time."""
    request = example(m.FlexibilityServiceRequest)
    request["window"]["start"] = when
    with pytest.raises(ValidationError, match="RFC 3339 string"):
        m.FlexibilityServiceRequest.model_validate(request)
