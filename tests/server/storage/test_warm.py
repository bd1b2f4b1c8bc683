"""Start-up compiles the accept path's statements (`storage/fast/warm.py`), so that the first
accepts after a start do not wait for it (the batch statement alone takes about 0.1 s)."""

from __future__ import annotations

from typing import Any

from fcsbe.server.app import create_app
from fcsbe.server.settings import Settings
from fcsbe.server.storage.fast.accept_many import INSERT_RECEIVED_MANY, LITE_INSERT_FS
from fcsbe.server.storage.fast.credentials import LITE_CREDENTIAL_WITH_KEY
from fcsbe.server.storage.fast.group_read import CREDENTIALS_WITH_KEYS
from fcsbe.server.storage.fast.warm import fast_statements


async def test_start_up_compiles_the_fast_statements(settings: Settings, backend: str) -> None:
    statements: list[Any] = fast_statements(backend)
    expected = (
        [INSERT_RECEIVED_MANY, CREDENTIALS_WITH_KEYS]
        if backend == "postgresql"
        else [LITE_CREDENTIAL_WITH_KEY, LITE_INSERT_FS]
    )
    assert all(any(s is e for s in statements) for e in expected)
    for statement in statements:
        statement._compiled = None  # as in a new process
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert all(statement._compiled is not None for statement in statements)
