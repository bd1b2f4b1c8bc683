"""Detached JWS over canonical JSON: sign, verify, and refuse every kind of tampering."""

from __future__ import annotations

import pytest

from fcsbe.model.signatures import (
    SignatureError,
    SigningKeyError,
    generate_signing_key,
    public_jwk,
    sign_detached,
    signature_kid,
    usable_verification_key,
    verify_detached,
)


def test_sign_and_verify_round_trip() -> None:
    key = generate_signing_key("k-1")
    public = public_jwk(key)
    assert "d" not in public
    payload = {"b": [1, 2.5, "x"], "a": {"z": None}}
    signature = sign_detached(payload, key)
    assert signature.split(".")[1] == ""
    assert signature_kid(signature) == "k-1"
    # Key order does not matter: both sides sign the RFC 8785 canonical form.
    reordered = {"a": {"z": None}, "b": [1, 2.5, "x"]}
    assert verify_detached(signature, reordered, {"keys": [public]}) == "k-1"


def test_tampering_and_wrong_keys_are_refused() -> None:
    key, other = generate_signing_key("k-1"), generate_signing_key("k-2")
    signature = sign_detached({"p_w": 1000}, key)
    with pytest.raises(SignatureError, match="does not match"):
        verify_detached(signature, {"p_w": 1001}, [public_jwk(key)])
    with pytest.raises(SignatureError, match="no known key"):
        verify_detached(signature, {"p_w": 1000}, [public_jwk(other)])
    impostor = {**public_jwk(other), "kid": "k-1"}
    with pytest.raises(SignatureError, match="does not match"):
        verify_detached(signature, {"p_w": 1000}, [impostor])
    head, _, sig = signature.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(SignatureError):
        verify_detached(f"{head}..{flipped}", {"p_w": 1000}, [public_jwk(key)])
    for garbage in ("", "a.b.c", "!!..x", "e30..x"):
        with pytest.raises(SignatureError):
            verify_detached(garbage, {}, [public_jwk(key)])


def test_request_signatures_carry_replay_and_binding_parameters() -> None:
    from fcsbe.model.signatures import sign_request, signature_header

    key = generate_signing_key("fo-1")
    body = {"fsc_id": "fsc-1", "targets": [{"level": "EVSE", "id": "NL*ABC*E1*1"}]}
    first = sign_request("POST", "/v1/credential-checks", body, key, issued_at=1_767_225_600)
    second = sign_request("POST", "/v1/credential-checks", body, key, issued_at=1_767_225_600)
    header = signature_header(first)
    assert header["alg"] == "Ed25519"
    assert header["kid"] == "fo-1"
    assert (header["iat"], header["htm"], header["htu"]) == (
        1_767_225_600,
        "POST",
        "/v1/credential-checks",
    )
    assert len(header["jti"]) >= 16
    assert signature_header(second)["jti"] != header["jti"]  # a fresh id per signature
    assert verify_detached(first, body, [public_jwk(key)]) == "fo-1"
    empty = sign_request("PUT", "/v1/enrolments/self/credentials", None, key)
    assert verify_detached(empty, b"", [public_jwk(key)]) == "fo-1"
    with pytest.raises(SignatureError):
        verify_detached(empty, {}, [public_jwk(key)])


def test_a_key_stored_with_the_legacy_alg_name_still_verifies() -> None:
    """Keys enrolled before `EdDSA` was normalised at enrolment are stored with it; for an
    Ed25519 key it names the same computation (RFC 9864), so their signatures verify."""
    key = generate_signing_key("k-legacy")
    legacy = {**public_jwk(key), "alg": "EdDSA"}
    signature = sign_detached({"a": 1}, key)
    assert verify_detached(signature, {"a": 1}, [legacy]) == "k-legacy"
    with pytest.raises(SignatureError):
        verify_detached(signature, {"a": 1}, [{**legacy, "alg": "RS256"}])


@pytest.mark.parametrize(
    ("changes", "member"),
    [
        ({"alg": "ES256"}, "alg"),
        ({"use": "enc"}, "use"),
        ({"key_ops": ["sign"]}, "key_ops"),
        ({"crv": "X25519"}, "crv"),
        ({"x": "AAAA"}, "x"),
        ({"alg": {"not": "a name"}}, "alg"),
    ],
)
def test_a_key_that_cannot_verify_names_its_member(changes: dict[str, object], member: str) -> None:
    public = public_jwk(generate_signing_key("k"))
    assert usable_verification_key({**public, "alg": "EdDSA"})["alg"] == "Ed25519"
    assert usable_verification_key(public) == public
    with pytest.raises(SigningKeyError) as caught:
        usable_verification_key({**public, **changes})
    assert caught.value.member == member
