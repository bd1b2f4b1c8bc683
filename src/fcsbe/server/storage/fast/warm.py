"""Compiling the accept path's statements at start-up.

Each fast statement is compiled from SQLAlchemy Core once per process, when first run. For the
batch statement of the group commit (`accept_many.INSERT_RECEIVED_MANY`, four inserts over
thirty arrays) that is about 0.1 s of CPU: without this, the first accepts after a start or a
restart would wait for it, and a replica would report ready before it can accept at speed.
"""

from __future__ import annotations

from typing import Protocol

from fcsbe.server.storage.fast.accept import TWINS
from fcsbe.server.storage.fast.accept_many import (
    INSERT_RECEIVED_MANY,
    LITE_INSERT_EVENT,
    LITE_INSERT_FS,
    LITE_INSERT_TRANSITION,
    LITE_STORE_KEY,
)
from fcsbe.server.storage.fast.credentials import LITE_CREDENTIAL_WITH_KEY
from fcsbe.server.storage.fast.group_read import CREDENTIALS_WITH_KEYS

__all__ = ["compile_fast_statements", "fast_statements"]


class Compilable(Protocol):
    def compile(self) -> None: ...


def fast_statements(dialect: str) -> list[Compilable]:
    """Every fast statement the backend `dialect` ("postgresql", "sqlite") runs."""
    if dialect == "postgresql":
        return [*(twin.fast for twin in TWINS), INSERT_RECEIVED_MANY, CREDENTIALS_WITH_KEYS]
    if dialect == "sqlite":
        return [
            *(twin.lite for twin in TWINS if twin.lite is not None),
            LITE_CREDENTIAL_WITH_KEY,
            LITE_INSERT_FS,
            LITE_INSERT_TRANSITION,
            LITE_INSERT_EVENT,
            LITE_STORE_KEY,
        ]
    return []


def compile_fast_statements(dialect: str) -> None:
    """Compile every fast statement the backend `dialect` runs (`fast_statements`)."""
    for statement in fast_statements(dialect):
        statement.compile()
