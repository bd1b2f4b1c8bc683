"""The server party: created on the embedded server's first start, published at GET /v1."""

from __future__ import annotations

from pathlib import Path

import httpx

from fcsbe.model import VersionDetails
from fcsbe.server.app import create_app
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.settings import Settings


async def _details(settings: Settings) -> VersionDetails:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return VersionDetails.model_validate_json((await http.get("/v1")).content)


async def test_embedded_server_initialises_its_party_once(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}",
        data_dir=tmp_path / "var",
        server_party_id="NL-HOME",
        log_level="WARNING",
        workers_enabled=False,
    )
    first = await _details(settings)
    assert first.server_party_id == "NL-HOME"
    keys = ServerKeys.load(tmp_path / "var")
    assert keys is not None
    assert first.jwks == keys.public_jwks()
    again = await _details(settings)
    assert again.jwks == first.jwks  # the key is kept across restarts


def test_auto_init_defaults_follow_the_backend() -> None:
    assert Settings(database_url="sqlite+aiosqlite:///x.db").init_party_on_start is True
    assert Settings(database_url="postgresql+asyncpg://u@h/db").init_party_on_start is False
    assert Settings(
        database_url="postgresql+asyncpg://u@h/db", auto_init_party=True
    ).init_party_on_start
