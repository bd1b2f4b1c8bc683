"""P5: the CPU cost of signatures on the FS path, as % of one core at 1,000 requests/s.

Per request: verify the FO's detached Ed25519 JWS over the FS request, and sign the response
(the same cost as signing a DSR or PoW of that size), both through `fcsbe.model.signatures`
exactly as the server does. Timed as CPU time of this process (`time.process_time`), which a
loaded machine disturbs far less than wall time; the same-run baseline is the canonical JSON
(RFC 8785) of the same two documents, the serialisation every signature needs anyway.

    .venv/bin/python -m bench.bench_signatures
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.report import BenchFigure
from fcsbe.model import FlexibilityServiceRequest, FlexibilityServiceResponse
from fcsbe.model.canonical import canonical_json
from fcsbe.model.signatures import (
    generate_signing_key,
    public_jwk,
    sign_detached,
    verify_detached,
)

RATE = 1000
GOAL_PCT = 10.0
REFERENCE_RAW_S = 81e-6
"""Ed25519 sign (24 µs) + verify (57 µs) on the reference machine (quality-goals.md)."""
BATCH = 200
ROUNDS = 7


def _example(model: Any) -> dict[str, Any]:
    example = model.model_config["json_schema_extra"]["examples"][0]
    document: dict[str, Any] = model.model_validate(example).model_dump(
        mode="json", exclude_none=True
    )
    return document


def cpu_per_call(work: Callable[[], object]) -> float:
    """Median CPU seconds of one call, over ROUNDS batches of BATCH calls."""
    samples = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(BATCH):
            work()
        samples.append((time.process_time() - started) / BATCH)
    return statistics.median(samples)


def raw_ed25519() -> float:
    """CPU seconds of one bare sign + verify (cryptography, 32 bytes): the machine's speed."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    message = b"x" * 32
    signature = private.sign(message)
    return cpu_per_call(lambda: (private.sign(message), public.verify(signature, message)))


def measure() -> tuple[float, float, float, float]:
    """(verify, sign, both, canonical JSON baseline) CPU seconds per request."""
    fo_key, server_key = generate_signing_key(), generate_signing_key()
    fo_keys = {"keys": [public_jwk(fo_key)]}
    request = _example(FlexibilityServiceRequest)
    response = _example(FlexibilityServiceResponse)
    response.pop("signature", None)
    signature = sign_detached(request, fo_key)
    assert verify_detached(signature, request, fo_keys) == fo_key["kid"]

    verify = cpu_per_call(lambda: verify_detached(signature, request, fo_keys))
    sign = cpu_per_call(lambda: sign_detached(response, server_key))
    both = cpu_per_call(
        lambda: (verify_detached(signature, request, fo_keys), sign_detached(response, server_key))
    )
    baseline = cpu_per_call(lambda: (canonical_json(request), canonical_json(response)))
    return verify, sign, both, baseline


def run_for_report() -> list[BenchFigure]:
    verify, sign, both, baseline = measure()
    raw = raw_ed25519()
    pct = both * RATE * 100
    projected = both / raw * REFERENCE_RAW_S * RATE * 100
    label = "canonical JSON of request + response"
    return [
        BenchFigure(
            "P5",
            f"verify request + sign response, CPU at {RATE:,} req/s",
            pct,
            "% of a core",
            f"<= {GOAL_PCT:.0f} %",
            pct <= GOAL_PCT,
            baseline * RATE * 100,
            label,
        ),
        BenchFigure(
            "P5",
            "same, scaled to the reference machine's Ed25519 speed",
            projected,
            "% of a core",
            f"<= {GOAL_PCT:.0f} %",
            projected <= GOAL_PCT,
            raw / both * projected,
            "bare Ed25519 sign + verify",
        ),
        BenchFigure("P5", "verify one FS request signature", verify * 1e6, "µs", "", None),
        BenchFigure("P5", "sign one response", sign * 1e6, "µs", "", None),
    ]


def main() -> None:
    verify, sign, both, baseline = measure()
    print(f"verify {verify * 1e6:.0f} µs, sign {sign * 1e6:.0f} µs, both {both * 1e6:.0f} µs")
    print(f"baseline canonical JSON of both documents {baseline * 1e6:.0f} µs")
    print(f"at {RATE} req/s: {both * RATE * 100:.1f} % of one core (goal <= {GOAL_PCT:.0f} %)")
    raw = raw_ed25519()
    print(f"bare Ed25519 sign + verify {raw * 1e6:.0f} µs: the path costs {both / raw:.1f}x that")


if __name__ == "__main__":
    main()
