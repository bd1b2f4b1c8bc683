"""Cross-field rules: each refusal names the offending field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import fcsbe.model as m
from tests.model.helpers import example

ED25519_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"


def _refused(model: type[BaseModel], body: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        model.model_validate(body)


# --- flexibility service request ---------------------------------------------------------


def test_window_must_end_after_start() -> None:
    body = example(m.FlexibilityServiceRequest)
    body["window"]["end"] = body["window"]["start"]
    _refused(m.FlexibilityServiceRequest, body, "window end .* must be after window start")


@pytest.mark.parametrize("instant", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_times_beyond_the_calendar_in_utc_are_refused(instant: str) -> None:
    body = example(m.FlexibilityServiceRequest)
    body["window"]["start"] = instant
    with pytest.raises(ValidationError) as caught:
        m.FlexibilityServiceRequest.model_validate(body)
    assert caught.value.errors()[0]["loc"] == ("window", "start")


@pytest.mark.parametrize("flag", [True, False])
def test_a_percentage_is_a_number_not_a_flag(flag: bool) -> None:
    body = example(m.FlexibilityServiceRequest)
    body["minimum_acceptance_pct"] = flag
    with pytest.raises(ValidationError) as caught:
        m.FlexibilityServiceRequest.model_validate(body)
    assert caught.value.errors()[0]["loc"] == ("minimum_acceptance_pct",)


def test_periods_must_lie_inside_the_window() -> None:
    body = example(m.FlexibilityServiceRequest)
    body["window"]["end"] = "2026-03-02T17:30:00Z"
    _refused(m.FlexibilityServiceRequest, body, "periods must lie inside the window")


def test_periods_must_not_overlap() -> None:
    body = example(m.FlexibilityServiceRequest)
    body["parameters"]["periods"][2]["start_offset_s"] = 1000
    _refused(m.FlexibilityServiceRequest, body, r"periods\[2\] .* must not overlap")


def test_periods_must_be_ordered() -> None:
    body = example(m.FlexibilityServiceRequest)
    periods = body["parameters"]["periods"]
    periods[0], periods[1] = periods[1], periods[0]
    _refused(m.FlexibilityServiceRequest, body, r"periods\[1\] .* must be ordered")


def test_targets_must_not_repeat() -> None:
    body = example(m.FlexibilityServiceRequest)
    body["targets"].append(dict(body["targets"][0]))
    _refused(m.FlexibilityServiceRequest, body, r"targets\[2\] duplicates")


def test_targets_are_capped() -> None:
    body = example(m.FlexibilityServiceRequest)
    body["targets"] = [{"level": "EVSE", "id": f"NL*ABC*E{i}*1"} for i in range(1001)]
    _refused(m.FlexibilityServiceRequest, body, "at most 1000 items")


def test_periods_are_capped() -> None:
    body = example(m.FlexibilityServiceRequest)
    body["window"]["end"] = "2026-03-04T17:00:00Z"
    body["parameters"]["resolution_s"] = 60
    body["parameters"]["periods"] = [{"start_offset_s": 60 * i, "p_w": 0.0} for i in range(1441)]
    _refused(m.FlexibilityServiceRequest, body, "at most 1440 items")


def test_response_deadline_before_window_end() -> None:
    body = example(m.FlexibilityServiceRequest)
    body["response_deadline"] = body["window"]["end"]
    _refused(m.FlexibilityServiceRequest, body, "response_deadline must be before window.end")


@pytest.mark.parametrize("field", ["priority", "minimum_acceptance_pct", "tolerance_pct"])
def test_bounded_request_numbers(field: str) -> None:
    body = example(m.FlexibilityServiceRequest)
    body[field] = 101
    _refused(m.FlexibilityServiceRequest, body, field)


def test_defaults_defer_to_the_contract() -> None:
    body = example(m.FlexibilityServiceRequest)
    for field in ("tolerance_pct", "baseline_method", "response_deadline", "priority"):
        del body[field]
    request = m.FlexibilityServiceRequest.model_validate(body)
    assert request.tolerance_pct is None
    assert request.baseline_method is None
    assert request.minimum_acceptance_pct == 50.0
    assert request.priority == 5


# --- payloads -----------------------------------------------------------------------------


def test_demand_response_interval_needs_price_or_level() -> None:
    body = example(m.DemandResponseSignal)
    body["intervals"][0]["incentive_level"] = 1
    _refused(m.DemandResponseSignal, body, "exactly one of price_per_kwh and incentive_level")


def test_demand_response_prices_need_a_currency() -> None:
    body = example(m.DemandResponseSignal)
    del body["currency"]
    _refused(m.DemandResponseSignal, body, "currency is required")


def test_droop_power_bounds_ordered() -> None:
    body = example(m.DroopSettings)
    body["p_min_w"], body["p_max_w"] = 1000.0, -1000.0
    _refused(m.DroopSettings, body, "p_min_w .* must not exceed p_max_w")


def test_curve_x_strictly_increasing() -> None:
    body = example(m.DroopSettings)
    body["volt_var"]["points"][2]["x"] = 98.0
    _refused(m.DroopSettings, body, r"points.x\[2\] .* strictly increasing")


def test_curve_points_capped() -> None:
    body = example(m.DroopSettings)
    body["volt_var"]["points"] = [{"x": float(x), "y": 0.0} for x in range(21)]
    _refused(m.DroopSettings, body, "at most 20 items")


def test_volt_var_curve_units() -> None:
    body = example(m.DroopSettings)
    body["volt_var"]["y_unit"] = "PCT_MAX_W"
    _refused(m.DroopSettings, body, "volt_var must map a voltage x_unit to a reactive-power")


_DC = [
    {"df_hz": -0.5, "p_pct": -100.0},
    {"df_hz": -0.2, "p_pct": -5.0},
    {"df_hz": -0.015, "p_pct": 0.0},
    {"df_hz": 0.015, "p_pct": 0.0},
    {"df_hz": 0.2, "p_pct": 5.0},
    {"df_hz": 0.5, "p_pct": 100.0},
]


def test_a_frequency_watt_curve_replaces_the_droops() -> None:
    body = example(m.DroopSettings) | {"droop_over_pct": None, "droop_under_pct": None}
    _refused(m.DroopSettings, body, "droop_over_pct or gain_over_w_per_hz is required")
    settings = m.DroopSettings.model_validate(body | {"freq_watt": _DC, "p_ref_w": 1e4})
    assert settings.reference_w == 1e4
    asym = body | {"gain_under_w_per_hz": 5e4, "droop_over_pct": 2.0, "p_ref_w": 1e4}
    parsed = m.DroopSettings.model_validate(asym)
    assert parsed.gain_w_per_hz("under") == 5e4
    assert parsed.gain_w_per_hz("over") == pytest.approx(1e4)  # 100 % of 10 kW per 1 Hz


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({3: {"df_hz": -0.3, "p_pct": 0.0}}, r"freq_watt.df_hz\[3\] .* strictly increasing"),
        ({2: {"df_hz": -0.015, "p_pct": 10.0}}, "freq_watt.p_pct must not decrease"),
        ({2: {"df_hz": -0.015, "p_pct": -1.0}, 3: {"df_hz": 0.015, "p_pct": -1.0}}, "through"),
    ],
)
def test_frequency_watt_curve_rules(change: dict[int, dict[str, float]], match: str) -> None:
    points = [change.get(k, p) for k, p in enumerate(_DC)]
    body = example(m.DroopSettings) | {"freq_watt": points}
    _refused(m.DroopSettings, body, match)


def test_ffr_detection_delay_is_shorter_than_full_activation() -> None:
    body = example(m.FfrSettings) | {"detection_delay_s": 0.7}
    _refused(m.FfrSettings, body, r"detection_delay_s \(0.7\) must be shorter")


def test_ffr_trigger_frequencies_distinct() -> None:
    body = example(m.FfrSettings)
    body["trigger_levels"][1]["frequency_hz"] = 49.7
    _refused(m.FfrSettings, body, r"trigger_levels.frequency_hz\[1\] duplicates")


def test_ffr_sub_second_activation_allowed() -> None:
    settings = m.FfrSettings.model_validate(example(m.FfrSettings))
    assert settings.trigger_levels[1].full_activation_time_s == 0.7


def test_reserve_must_reserve_something() -> None:
    body = example(m.ReserveOffer)
    body["up_w"] = body["down_w"] = 0.0
    _refused(m.ReserveOffer, body, "at least one of up_w and down_w")


def test_congestion_limits_non_negative_and_present() -> None:
    body = example(m.CongestionLimits)
    body["periods"][0]["import_limit_w"] = -1.0
    _refused(m.CongestionLimits, body, "greater than or equal to 0")
    body = example(m.CongestionLimits)
    del body["periods"][1]["import_limit_w"]
    _refused(m.CongestionLimits, body, "give import_limit_w, export_limit_w or both")


def test_negative_prices_allowed() -> None:
    signal = m.DynamicPriceSignal.model_validate(example(m.DynamicPriceSignal))
    assert signal.intervals[1].import_price_per_kwh < 0


def test_reserve_activation_delta_is_a_magnitude() -> None:
    body = example(m.ReserveActivation)
    body["delta_p_w"] = -1.0
    _refused(m.ReserveActivation, body, "delta_p_w")


# --- responses ----------------------------------------------------------------------------


def test_rejection_needs_a_reason() -> None:
    body = example(m.FlexibilityServiceResponse)
    body["result"] = "REJECTED"
    body["reasons"] = []
    _refused(m.FlexibilityServiceResponse, body, "REJECTED response must give at least one")


def test_reasons_capped() -> None:
    body = example(m.FlexibilityServiceResponse)
    body["reasons"] = [{"code": "NOT_CAPABLE"}] * 101
    _refused(m.FlexibilityServiceResponse, body, "at most 100 items")


# --- contracts ----------------------------------------------------------------------------


def test_contract_validity_ordered() -> None:
    body = example(m.ContractProposal)
    body["valid_to"] = body["valid_from"]
    _refused(m.ContractProposal, body, "valid_to must be after valid_from")


def test_commitment_type_must_be_in_contract() -> None:
    body = example(m.ContractProposal)
    body["commitments"][0]["fs_type"] = "FFR"
    _refused(m.ContractProposal, body, r"commitments\[0\].fs_type \(FFR\) is not in fs_types")


def test_fs_types_unique() -> None:
    body = example(m.ContractAmendment)
    body["fs_types"] = ["SETPOINT", "SETPOINT"]
    _refused(m.ContractAmendment, body, r"fs_types\[1\] duplicates")


def test_safe_limit_required_exactly_with_safe_limit_policy() -> None:
    body = example(m.ContractAmendment)
    del body["fallback"]["safe_limit_w"]
    _refused(m.ContractAmendment, body, "safe_limit_w is required when policy is SAFE_LIMIT")
    body = example(m.ContractAmendment)
    body["fallback"]["policy"] = "HOLD_LAST"
    _refused(m.ContractAmendment, body, "safe_limit_w is only allowed")


def test_currency_is_iso_4217() -> None:
    body = example(m.ContractAmendment)
    body["remuneration"]["currency"] = "euro"
    _refused(m.ContractAmendment, body, "currency")


def test_holder_is_not_the_fo() -> None:
    body = example(m.ContractProposal)
    body["holder_role"] = "FO"
    _refused(m.ContractProposal, body, "holder_role must be the provider side")


def test_availability_window_times_ordered() -> None:
    body = example(m.ContractAmendment)
    window = body["commitments"][0]["availability_windows"][0]
    window["end_time"] = "16:00:00"
    _refused(m.ContractAmendment, body, "end_time must be after start_time")


def test_proposal_terms_drop_the_ids() -> None:
    proposal = m.ContractProposal.model_validate(example(m.ContractProposal))
    terms = proposal.to_terms()
    assert type(terms) is m.ContractTerms
    assert terms == m.ContractAmendment.model_validate(example(m.ContractAmendment)).to_terms()


def test_money_is_exact_and_a_json_number() -> None:
    amendment = m.ContractAmendment.model_validate(example(m.ContractAmendment))
    assert str(amendment.remuneration.availability_price_per_mw_h) == "12.5"
    assert '"availability_price_per_mw_h":12.5' in amendment.model_dump_json()


# --- sessions and consent -----------------------------------------------------------------


def test_soc_floor_not_above_target() -> None:
    _refused(
        m.StateOfCharge,
        {"current_pct": 50, "target_pct": 40, "floor_pct": 60},
        r"floor_pct \(60\) must not exceed target_pct \(40\)",
    )


def test_soc_at_most_100() -> None:
    _refused(m.StateOfCharge, {"current_pct": 101}, "less than or equal to 100")
    _refused(m.EvuLimits, {"min_soc_at_departure_pct": 120}, "less than or equal to 100")


def test_evu_floor_not_above_departure_soc() -> None:
    _refused(
        m.EvuLimits,
        {"min_soc_at_departure_pct": 50, "soc_floor_pct": 60},
        "soc_floor_pct .* must not exceed min_soc_at_departure_pct",
    )


def test_energy_request_ordered() -> None:
    _refused(
        m.EnergyRequest,
        {"target_energy_wh": 10, "min_energy_wh": 20, "max_energy_wh": 30},
        "min_energy_wh <= target_energy_wh <= max_energy_wh",
    )


def test_v1g_consent_gives_no_energy_to_grid() -> None:
    body = example(m.ConsentGrant)
    body["scope"] = ["V1G"]
    _refused(m.ConsentGrant, body, "max_energy_to_grid_wh must be 0 without V2G")


def test_consent_withdrawal_after_grant() -> None:
    body = example(m.Consent)
    body["withdrawn_at"] = "2026-01-01T00:00:00Z"
    _refused(m.Consent, body, "withdrawn_at must not be before given_at")


def test_site_coordinates_are_kept_coarse() -> None:
    location = m.Location.model_validate(
        {"country": "NL", "latitude": 52.370216, "longitude": 4.895168}
    )
    assert (location.latitude, location.longitude) == (52.37, 4.9)


def test_personal_and_pseudonymous_fields_are_marked() -> None:
    consent = m.Consent.model_json_schema()["properties"]
    assert consent["limits"]["x-personal-data"] is True
    session = m.EvSession.model_json_schema()["properties"]
    assert session["session_ref"]["x-pseudonym"] is True
    assert m.Consent.model_json_schema()["properties"]["subject_ref"]["x-pseudonym"] is True


# --- parties, keys, records ---------------------------------------------------------------


def test_jwk_must_be_public() -> None:
    body = example(m.EnrolmentRequest)
    body["signing_key"]["d"] = ED25519_X
    _refused(m.EnrolmentRequest, body, "private member")


@pytest.mark.parametrize(
    ("jwk", "match"),
    [
        ({"crv": "Ed25519", "x": ED25519_X}, "kty"),
        ({"kty": "OKP", "crv": "X25519", "x": ED25519_X}, "Ed25519"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "short"}, "32-byte"),
    ],
)
def test_jwk_form(jwk: dict[str, str], match: str) -> None:
    _refused(m.JsonWebKeySet, {"keys": [jwk]}, match)


def test_signing_key_needs_kid() -> None:
    body = example(m.EnrolmentRequest)
    del body["signing_key"]["kid"]
    _refused(m.EnrolmentRequest, body, "must carry a `kid`")


def test_callback_url_is_http() -> None:
    body = example(m.EnrolmentRequest)
    body["callback_base_url"] = "ftp://fo.example.com"
    _refused(m.EnrolmentRequest, body, "not an absolute http")
    body["callback_base_url"] = "https://fo.example.com/hooks/"
    assert m.EnrolmentRequest.model_validate(body).callback_base_url == (
        "https://fo.example.com/hooks"
    )


def test_country_is_iso_3166() -> None:
    body = example(m.Party)
    body["country"] = "NLD"
    _refused(m.Party, body, "country")


def test_jwks_lookup_by_kid() -> None:
    party = m.Party.model_validate(example(m.Party))
    assert party.jwks is not None
    assert party.jwks.find("fo-2026-01") is not None
    assert party.jwks.find("nope") is None


def test_dsr_final_state_and_interval_order() -> None:
    body = example(m.DetailedServiceRecord)
    body["final_state"] = "ACTIVE"
    _refused(m.DetailedServiceRecord, body, "final_state must be one of")
    body = example(m.DetailedServiceRecord)
    body["intervals"][1]["start"] = "2026-03-02T17:10:00Z"
    _refused(m.DetailedServiceRecord, body, r"intervals\[1\] .* must not overlap")


def test_dsr_states_sign_convention() -> None:
    record = m.DetailedServiceRecord.model_validate(example(m.DetailedServiceRecord))
    assert record.sign_convention == m.SIGN_CONVENTION


def test_pow_tree_head_covers_the_range() -> None:
    body = example(m.ProofOfWork)
    body["event_log_range"]["to_seq"] = 5000
    _refused(m.ProofOfWork, body, "tree_size must cover event_log_range.to_seq")
    body = example(m.ProofOfWork)
    body["event_log_range"] = {"from_seq": 10, "to_seq": 9}
    _refused(m.ProofOfWork, body, "from_seq must not exceed to_seq")


def test_dispute_needs_reasons() -> None:
    _refused(m.ProofValidationRequest, {"decision": "DISPUTE"}, "DISPUTE must give at least")
    assert m.ProofValidationRequest.model_validate({"decision": "ACCEPT"}).reasons == []


def test_event_log_entry_hash_follows_the_chain_rule() -> None:
    entry = m.EventLogEntry.model_validate(example(m.EventLogEntry))
    payload = entry.chain_payload()
    assert set(payload) == {
        "seq",
        "time",
        "source",
        "type",
        "severity",
        "party_id",
        "fs_id",
        "object_ref",
        "summary",
        "payload_digest",
        "prev_hash",
    }
    assert entry.expected_hash() == m.chain_hash(entry.prev_hash, payload)
    tampered = entry.model_copy(update={"summary": "ACTIVE -> COMPLETED"})
    assert tampered.expected_hash() != entry.expected_hash()


def test_digests_are_hex() -> None:
    body = example(m.SignedTreeHead)
    body["root_hash"] = body["root_hash"].upper()
    _refused(m.SignedTreeHead, body, "root_hash")


def test_inclusion_and_consistency_proof_bounds() -> None:
    _refused(m.InclusionProof, {"leaf_index": 5, "tree_size": 5, "audit_path": []}, "below")
    _refused(m.ConsistencyProof, {"first_size": 6, "second_size": 5, "proof": []}, "exceed")


def test_measurement_points_ordered_and_missing_means_null() -> None:
    body = example(m.MeasurementSeries)
    body["points"][1]["time"] = body["points"][0]["time"]
    _refused(m.MeasurementSeries, body, r"points\[1\].time must be after")
    body = example(m.MeasurementSeries)
    body["points"][0]["quality"] = "MISSING"
    _refused(m.MeasurementSeries, body, "value must be null exactly when quality is MISSING")


def test_notification_data_is_typed_on_request() -> None:
    notification = m.Notification.model_validate(example(m.Notification))
    data = notification.typed_data()
    assert isinstance(data, m.FsStateChangedData)
    assert data.to_state is m.FsState.ACTIVE


def test_availability_and_capability_bounds() -> None:
    body = example(m.AvailabilityForecast)
    body["intervals"][0]["v2g_capable_evs"] = 13
    _refused(m.AvailabilityForecast, body, "v2g_capable_evs must not exceed connected_evs")
    body = example(m.Capability)
    body["p_min_w"] = 1e6
    _refused(m.Capability, body, "p_min_w must not exceed p_max_w")


def test_evse_id_is_emi3() -> None:
    body = example(m.ChargingStation)
    body["evses"][0]["evse_id"] = "evse 1"
    _refused(m.ChargingStation, body, "evse_id")


def test_credential_check_result_summary() -> None:
    result = m.CredentialCheckResult.model_validate(example(m.CredentialCheckResult))
    assert result.ok
    failing = result.model_copy(update={"contract_ok": False})
    assert not failing.ok
