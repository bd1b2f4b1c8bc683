"""Imports every table module so that `Base.metadata` is complete (migrations compare with it)."""

from fcsbe.server.storage import (
    contracts,
    ev_users,
    event_log,
    flexibility,
    idempotency,
    infrastructure,
    measurements,
    outbox,
    parties,
    records,
    signatures,
    webhook_endpoints,
)
from fcsbe.server.storage.base import Base

__all__ = ["metadata"]

_TABLE_MODULES = (
    contracts,
    ev_users,
    event_log,
    flexibility,
    idempotency,
    infrastructure,
    measurements,
    outbox,
    parties,
    outbox,
    parties,
    signatures,
    outbox,
    parties,
    records,
    outbox,
    parties,
    webhook_endpoints,
)

metadata = Base.metadata
