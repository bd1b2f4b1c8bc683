"""Sealed idempotent answers: readable only with the secret they were sealed under."""

from __future__ import annotations

from fcsbe.server.security.sealing import SecretSealer


def test_seal_and_open() -> None:
    sealer = SecretSealer("fcsbe_et_secret-one")
    sealed = sealer.seal(b'{"access_token":"fcsbe_at_x"}')
    assert b"fcsbe_at_x" not in sealed
    assert sealer.open(sealed) == b'{"access_token":"fcsbe_at_x"}'
    assert sealer.seal(b"same") != sealer.seal(b"same")  # fresh nonce each time
    assert SecretSealer("fcsbe_et_secret-two").open(sealed) is None
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert sealer.open(tampered) is None
    assert sealer.open(b"plain old body") is None
