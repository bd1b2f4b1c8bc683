"""UC 3.1 - Enrolment of a CSO/CSP by a flexibility operator.

The CSO operator initialises its party and hands an aggregator a one-time token; the aggregator
enrols with the FO client, gets the server's keys and an access token, keeps the link alive,
rotates its token and finally unregisters. A second aggregator sees nothing of the first.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from fcsbe.client import AuthenticationError, NotFoundError
from fcsbe.model import PartyRole, generate_signing_key, verify_detached
from fcsbe.server.security.keys import ServerKeys
from tests.scenarios.operator_cli import fcsbe_admin
from tests.support.flows import asgi_client, enrol_fo, fo_party, proposal
from tests.support.registry_fixtures import EVSE_DC, add_registry


async def test_operator_enrols_an_aggregator(app: FastAPI) -> None:
    # The operator: its party and signing key, and a one-time token for the aggregator.
    init = await fcsbe_admin(
        app,
        "party",
        "init",
        "--party-id",
        "NL-ABC",
        "--name",
        "ABC Charging N.V.",
        "--country",
        "NL",
    )
    operator_token = init.output.strip().splitlines()[-1]
    assert operator_token.startswith("fcsbe_op_")
    issued = await fcsbe_admin(
        app, "enrolment-token", "create", "--fo-name", "Flexa", "--ttl", "2d"
    )
    enrolment_token = issued.output.strip().splitlines()[-1]
    assert enrolment_token.startswith("fcsbe_et_")

    # The aggregator: discovery before enrolment shows the server's party and keys.
    key = generate_signing_key("flexa-2026")
    async with asgi_client(app, signing_key=key) as fo:
        details = await fo.discovery.version_details()
        assert details.server_party_id == "NL-ABC"
        result = await fo.enrolments.enrol(
            enrolment_token,
            party=fo_party("NL-FLX"),
            callback_base_url="https://flexa.example.com/fcsbe",
        )
        assert result.server_party.party_id == "NL-ABC"
        assert result.server_party.roles == [PartyRole.CSO]
        assert result.server_party.jwks is not None
        assert result.server_party.jwks.model_dump()["keys"] == details.jwks["keys"]
        # What the server signs verifies with the keys the aggregator received.
        keys = ServerKeys.load(app.state.settings.data_dir)
        assert keys is not None
        signed = keys.sign({"hello": "flexa"})
        assert verify_detached(signed, {"hello": "flexa"}, details.jwks) == keys.kid

        me = await fo.enrolments.get()
        assert (me.status.value, me.fo_party_id) == ("ACTIVE", "NL-FLX")
        assert me.signing_key is not None
        assert me.signing_key["kid"] == "flexa-2026"
        assert "contracts" in me.scopes

        beat = await fo.heartbeat.send()
        assert beat.offline_timeout_s == me.offline_timeout_s

        old_token = fo.token
        rotation = await fo.enrolments.rotate_credentials()
        assert fo.token == rotation.access_token != old_token

        # The one-time token cannot be used twice.
        async with asgi_client(app) as thief:
            with pytest.raises(AuthenticationError) as caught:
                await thief.enrolments.enrol(
                    enrolment_token,
                    party=fo_party("NL-EVIL"),
                    callback_base_url="https://evil.example.com",
                    signing_key=me.signing_key,
                )
            assert caught.value.problem.slug == "enrolment-token-spent"

        listed = await fcsbe_admin(app, "enrolments", "list")
        assert "NL-FLX  ACTIVE" in listed.output

        # A second aggregator on the same server sees none of the first one's data.
        await add_registry(app.state.session_factory)
        await fo.contracts.propose(
            proposal("fsc-flexa", [{"level": "EVSE", "id": EVSE_DC}], provider="NL-ABC")
        )
        other = await enrol_fo(app, operator_token, "NL-OTHER")
        assert await other.client.contracts.list().to_list() == []
        with pytest.raises(NotFoundError):
            await other.client.contracts.get("fsc-flexa")
        await other.client.aclose()

        # Unregistering revokes every credential at once.
        await fo.enrolments.delete()
        with pytest.raises(AuthenticationError) as revoked:
            await fo.enrolments.get()
        assert revoked.value.problem.slug == "token-revoked"
    final = await fcsbe_admin(app, "enrolments", "list", "--status", "REVOKED")
    assert "NL-FLX  REVOKED" in final.output
