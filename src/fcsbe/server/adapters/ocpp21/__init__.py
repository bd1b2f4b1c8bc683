"""OCPP 2.1 mapping: the messages a CSBE sends its charging stations to execute an FS plan.

Pure functions from the FS request and its `planning.Plan` (plus each EVSE's OCPP address) to
`OcppCall`s whose payloads validate against the OCPP 2.1 JSON schemas. Sending them, and
handling the stations' responses, is the station adapter's job.

The table of which FS type becomes which message is in docs/flexibility-services.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from fcsbe.model import FlexibilityServiceRequest, FsType
from fcsbe.server.adapters.ocpp21.dynamic import dynamic_profile_calls, dynamic_update_calls
from fcsbe.server.adapters.ocpp21.local_control import droop_calls, ffr_calls
from fcsbe.server.adapters.ocpp21.messages import EvseAddress, OcppCall, OcppMappingError
from fcsbe.server.adapters.ocpp21.profiles import schedule_calls, station_limit_calls
from fcsbe.server.planning import Plan

__all__ = [
    "EvseAddress",
    "OcppCall",
    "OcppMappingError",
    "dynamic_profile_calls",
    "dynamic_update_calls",
    "ocpp_calls",
]


def ocpp_calls(
    request: FlexibilityServiceRequest, plan: Plan, addresses: Mapping[str, EvseAddress]
) -> list[OcppCall]:
    """The OCPP 2.1 requests that execute `plan` (of `request`, or of one of its activations).

    Raises `OcppMappingError` when a station cannot be told what the plan needs.
    """
    if plan.fs_type is not request.fs_type:
        raise ValueError(f"a {plan.fs_type} plan for a {request.fs_type} FS")
    if request.fs_type is FsType.CONGESTION:
        return station_limit_calls(request, plan, addresses)
    if request.fs_type is FsType.DROOP:
        return droop_calls(request, plan, addresses)
    if request.fs_type is FsType.FFR:
        return ffr_calls(request, plan, addresses)
    return schedule_calls(request, plan, addresses)
