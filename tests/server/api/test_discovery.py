"""Discovery and health routes on both backends."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from fcsbe.model import VersionDetails, VersionList
from fcsbe.server.api.discovery import MODULES
from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.storage.base import utcnow
from fcsbe.server.storage.parties import PartyRow


async def test_versions_points_at_v1(http: httpx.AsyncClient) -> None:
    response = await http.get("/versions")
    assert response.status_code == 200
    versions = VersionList.model_validate_json(response.content)
    assert [v.version for v in versions.versions] == ["1"]
    assert versions.versions[0].url == "http://fcsbe.test/v1"


async def test_version_details_before_party_init(app: FastAPI, http: httpx.AsyncClient) -> None:
    details = VersionDetails.model_validate_json((await http.get("/v1")).content)
    assert details.server_party_id is None
    # The signing keys exist from the first start: they sign tree heads and proofs.
    assert details.jwks == app.state.keys.public_jwks()
    assert [m.module for m in details.modules] == list(MODULES)


async def test_version_details_show_server_party_and_keys(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    jwks = {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "kid": "k1",
            }
        ]
    }
    async with app.state.session_factory() as session:
        session.add(
            PartyRow(
                party_id="NL-CSO",
                roles=["CSO"],
                legal_name="CSO B.V.",
                country="NL",
                identifiers={},
                jwks=jwks,
                is_server=True,
                created_at=utcnow(),
            )
        )
        await session.commit()
        # The column reads back timezone-aware on both backends; no route shows a party's date.
        assert (await session.execute(select(PartyRow))).scalar_one().created_at.tzinfo
    details = VersionDetails.model_validate_json((await http.get("/v1")).content)
    assert details.server_party_id == "NL-CSO"
    # The party's recorded keys first, then the server's signing keys from `data_dir`.
    assert details.jwks["keys"][0] == jwks["keys"][0]
    assert details.jwks["keys"][1:] == app.state.keys.public_jwks()["keys"]


async def test_health_and_readiness(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_request_id_is_echoed_or_made(http: httpx.AsyncClient) -> None:
    echoed = await http.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = await http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


async def test_version_details_announce_the_record_delay(settings: Settings) -> None:
    """An FO learns from `GET /v1` how long after an FS ends its record is made."""
    app = create_app(settings.model_copy(update={"record_delay_s": 42.5}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fcsbe.test") as http:
            body = (await http.get("/v1")).json()
    assert body["record_delay_s"] == 42.5
