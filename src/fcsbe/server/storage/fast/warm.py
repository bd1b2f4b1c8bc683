"""Compiling the accept path's statements at start-up.

Each fast statement is compiled from SQLAlchemy Core once per process, when first run. For the
batch statement of the group commit (`accept_many.INSERT_RECEIVED_MANY`, four inserts over
thirty arrays) that is about 0.1 s of CPU: without this, the first accepts after a start or a
restart would wait for it, and a replica would report ready before it can accept at speed.
"""

from __future__ import annotations

from fcsbe.server.storage.fast.accept import TWINS
from fcsbe.server.storage.fast.accept_many import (
    INSERT_RECEIVED_MANY,
    LITE_INSERT_EVENT,
    LITE_INSERT_FS,
    LITE_INSERT_TRANSITION,
    LITE_STORE_KEY,
)
from fcsbe.server.storage.fast.group_read import CREDENTIALS_WITH_KEYS

__all__ = ["compile_fast_statements"]


def compile_fast_statements(dialect: str) -> None:
    """Compile every fast statement the backend `dialect` ("postgresql", "sqlite") runs."""
    if dialect == "postgresql":
        for twin in TWINS:
            twin.fast.compile()
        INSERT_RECEIVED_MANY.compile()
        CREDENTIALS_WITH_KEYS.compile()
    elif dialect == "sqlite":
        for twin in TWINS:
            if twin.lite is not None:
                twin.lite.compile()
        for write in (LITE_INSERT_FS, LITE_INSERT_TRANSITION, LITE_INSERT_EVENT, LITE_STORE_KEY):
            write.compile()
