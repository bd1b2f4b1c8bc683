"""The private halves of the example keys in the OpenAPI document (and the model's examples).

They exist so that every signature example in the published document is a real signature that
a third-party verifier can check, and so that a test can sign the way the documentation says
with the example key. They sign nothing else: never configure a server or a client with them.

- `FO_EXAMPLE_KEY`: the Ed25519 key of RFC 8037 appendix A.1 (its private half is public).
- `CSO_EXAMPLE_KEY`: the server party's example key (`kid` `cso-2026-01`). An example document
  that changes must be signed again: `sign_detached(model.signed_payload(), CSO_EXAMPLE_KEY)`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CSO_EXAMPLE_KEY", "FO_EXAMPLE_KEY"]

FO_EXAMPLE_KEY: dict[str, Any] = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    "kid": "fo-2026-01",
}

CSO_EXAMPLE_KEY: dict[str, Any] = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "rT25D5onBcEYOkcbzqPlbdmYnAwnwrQ2JRVghWTqV58",
    "x": "CZH7YWqpeIpW07rizvGPa9C-pVf0bhc0_p04V6GvWpQ",
    "kid": "cso-2026-01",
}
