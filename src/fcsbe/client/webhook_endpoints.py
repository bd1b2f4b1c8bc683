"""The FO's webhook endpoint: where the FCSBE pushes notifications and how it signs them."""

from __future__ import annotations

from collections.abc import Sequence

from fcsbe.client.operations import operation
from fcsbe.client.transport import Transport
from fcsbe.model import WebhookEndpoint, WebhookEndpointUpdate, WebhookSignatureScheme

__all__ = ["WebhookEndpointResource"]


class WebhookEndpointResource:
    """Register, read and re-key the caller's webhook endpoint."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("get_webhook_endpoint")
    async def get(self) -> WebhookEndpoint:
        """Read the endpoint and its state (ACTIVE, or DISABLED after a 410).

        Returns:
            The endpoint, without its secret.

        Raises:
            NotFoundError: no endpoint is registered.
        """
        response = await self._t.request("GET", "/v1/webhook-endpoint")
        return WebhookEndpoint.model_validate_json(response.content)

    @operation("put_webhook_endpoint")
    async def put(
        self,
        callback_base_url: str,
        *,
        signature_schemes: Sequence[WebhookSignatureScheme] | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookEndpoint:
        """Set the callback base URL (POSTs go to `{url}/notifications`) and how deliveries
        are signed; re-enables the endpoint.

        Args:
            callback_base_url: HTTPS base URL of your receiver.
            signature_schemes: `["v1"]` (HMAC, shared secret), `["v1a"]` (Ed25519, verified
                with the FCSBE's public key) or both; None keeps them (`v1` when new).
            idempotency_key: Reused on retries; a fresh UUID when None.

        Returns:
            The endpoint; `secret` is set when you must store it (first registration with
            `v1`, or `v1` just added); `public_key` is the FCSBE's `whpk_` key with `v1a`.

        Raises:
            UnprocessableEntityError: the URL is refused (not HTTPS, private address, ...).
        """
        schemes = None if signature_schemes is None else list(signature_schemes)
        body = WebhookEndpointUpdate(callback_base_url=callback_base_url, signature_schemes=schemes)
        response = await self._t.request(
            "PUT",
            "/v1/webhook-endpoint",
            json=body.model_dump(mode="json", exclude_none=True),
            idempotency_key=idempotency_key,
        )
        return WebhookEndpoint.model_validate_json(response.content)

    @operation("rotate_webhook_secret")
    async def rotate_secret(self, *, idempotency_key: str | None = None) -> WebhookEndpoint:
        """Make a new signing secret; the old one co-signs during the overlap window.

        Args:
            idempotency_key: Reused on retries; a fresh UUID when None.

        Returns:
            The endpoint with the new `secret`: give it to your receiver.
        """
        response = await self._t.request(
            "POST", "/v1/webhook-endpoint/secret", idempotency_key=idempotency_key
        )
        return WebhookEndpoint.model_validate_json(response.content)
