"""Start-up compiles the accept path's statements (`storage/fast/warm.py`), so that the first
accepts after a start do not wait for it (the batch statement alone takes about 0.1 s)."""

from __future__ import annotations

from typing import Any

from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.storage.fast.accept import TWINS
from fcsbe.server.storage.fast.accept_many import INSERT_RECEIVED_MANY
from fcsbe.server.storage.fast.group_read import CREDENTIALS_WITH_KEYS


def _statements(backend: str) -> list[Any]:
    if backend == "postgresql":
        return [*(t.fast for t in TWINS), INSERT_RECEIVED_MANY, CREDENTIALS_WITH_KEYS]
    return [t.lite for t in TWINS if t.lite is not None]


async def test_start_up_compiles_the_fast_statements(settings: Settings, backend: str) -> None:
    statements = _statements(backend)
    assert statements
    for statement in statements:
        statement._compiled = None  # as in a new process
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert all(statement._compiled is not None for statement in statements)
