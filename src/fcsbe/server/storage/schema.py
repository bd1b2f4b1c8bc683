"""Imports every table module so that `Base.metadata` is complete (migrations compare with it)."""

from fcsbe.server.storage import (
    contracts,
    control_layers,
    ev_users,
    event_log,
    flexibility_services,
    idempotency,
    infrastructure,
    measurements,
    notifications,
    ocpp_stations,
    parties,
    records,
    signatures,
    station_commands,
    webhook_endpoints,
)
from fcsbe.server.storage.base import Base

__all__ = ["metadata"]

_TABLE_MODULES = (
    contracts,
    control_layers,
    ev_users,
    event_log,
    flexibility_services,
    idempotency,
    infrastructure,
    measurements,
    notifications,
    ocpp_stations,
    parties,
    records,
    signatures,
    station_commands,
    webhook_endpoints,
)

metadata = Base.metadata
