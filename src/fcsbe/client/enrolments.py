"""Enrolment (UC 3.1): exchange a one-time token for credentials, rotate, unregister."""

from __future__ import annotations

from typing import Any

from fcsbe.client.operations import operation
from fcsbe.client.transport import Transport
from fcsbe.model import (
    CredentialsRotation,
    Enrolment,
    EnrolmentRequest,
    EnrolmentResult,
    EnrolmentUpdate,
    Party,
    public_jwk,
)

__all__ = ["EnrolmentsResource"]


class EnrolmentsResource:
    """The FO's enrolment with this server. Successful calls update the client's token."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _public_key(self, signing_key: dict[str, Any] | None) -> dict[str, Any]:
        if signing_key is not None:
            return signing_key
        if self._t.signing_key is None:
            raise ValueError("give signing_key, or create the client with signing_key=...")
        return public_jwk(self._t.signing_key)

    @operation("create_enrolment")
    async def enrol(
        self,
        enrolment_token: str,
        *,
        party: Party,
        callback_base_url: str,
        signing_key: dict[str, Any] | None = None,
        webhook_secret: str | None = None,
        idempotency_key: str | None = None,
    ) -> EnrolmentResult:
        """Enrol with the one-time token the operator gave you.

        Args:
            enrolment_token: The one-time token (`fcsbe_et_...`); spent by this call.
            party: Your party (id, roles including FO, name, country).
            callback_base_url: Where notifications are pushed (`{url}/notifications`); https.
            signing_key: Your public Ed25519 JWK; default: the public half of the client's
                `signing_key`.
            webhook_secret: Optional shared secret for HMAC webhook signatures.
            idempotency_key: Reuse one to retry safely after a lost answer.

        Returns:
            The enrolment, your access token (now used by this client) and the server's party
            with its public keys.

        Raises:
            AuthenticationError: the token is unknown, spent or expired.
            ConflictError: the party is already enrolled, or its id is taken.
            UnprocessableEntityError: a bad callback URL, key or party.
        """
        body = EnrolmentRequest(
            party=party,
            callback_base_url=callback_base_url,
            signing_key=self._public_key(signing_key),
            webhook_secret=webhook_secret,
        )
        response = await self._t.request(
            "POST",
            "/v1/enrolments",
            json=body.model_dump(mode="json", exclude_none=True),
            headers={"authorization": f"Bearer {enrolment_token}"},
            idempotency_key=idempotency_key,
        )
        result = EnrolmentResult.model_validate_json(response.content)
        self._t.token = result.access_token
        return result

    @operation("get_own_enrolment")
    async def get(self) -> Enrolment:
        """Read your enrolment: status, scopes, heartbeat timing, registered signing key."""
        response = await self._t.request("GET", "/v1/enrolments/self")
        return Enrolment.model_validate_json(response.content)

    @operation("update_own_enrolment")
    async def update(
        self,
        *,
        callback_base_url: str | None = None,
        signing_key: dict[str, Any] | None = None,
    ) -> Enrolment:
        """Move your callback URL and/or register a new public signing key.

        After a key change, create the client with the new private key; the previous key keeps
        verifying for the server's overlap window.
        """
        body = EnrolmentUpdate(callback_base_url=callback_base_url, signing_key=signing_key)
        response = await self._t.request(
            "PATCH", "/v1/enrolments/self", json=body.model_dump(mode="json", exclude_none=True)
        )
        return Enrolment.model_validate_json(response.content)

    @operation("rotate_credentials")
    async def rotate_credentials(self) -> CredentialsRotation:
        """Get a new access token (used by this client from now on).

        Returns:
            The new token and until when the previous one still works.
        """
        response = await self._t.request("PUT", "/v1/enrolments/self/credentials")
        rotation = CredentialsRotation.model_validate_json(response.content)
        self._t.token = rotation.access_token
        return rotation

    @operation("delete_own_enrolment")
    async def delete(self) -> None:
        """Unregister: your credentials stop working at once, your contracts end."""
        await self._t.request("DELETE", "/v1/enrolments/self")
