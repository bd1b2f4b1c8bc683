"""FS requests (UC 2.1-2.7): create, read, list, supersede, cancel, and waiting for the
decision."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Sequence

from fcsbe.client.errors import FsDecisionTimeoutError
from fcsbe.client.operations import operation
from fcsbe.client.paging import AsyncPager
from fcsbe.client.transport import Transport
from fcsbe.model import (
    EvidenceSample,
    EvidenceSummary,
    FlexibilityService,
    FlexibilityServiceRequest,
    FsAccepted,
    FsCancellation,
    FsState,
    FsType,
    MeasurementSeries,
    Quantity,
    ReserveActivation,
    SetpointUpdate,
    StationCommand,
)

__all__ = ["FlexibilityServicesResource"]

_BASE = "/v1/flexibility-services"


def _fs_or_command(status: int, content: bytes) -> FlexibilityService | StationCommand:
    """A control's answer: the FS (200) or the station command queued for it (202)."""
    if status == 202:
        return StationCommand.model_validate_json(content)
    return FlexibilityService.model_validate_json(content)


class FlexibilityServicesResource:
    """Ask for flexibility and follow it through its lifecycle."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    @operation("create_flexibility_service")
    async def create(
        self, request: FlexibilityServiceRequest, *, idempotency_key: str | None = None
    ) -> FsAccepted:
        """Request an FS; the server answers at once, the decision follows.

        Args:
            request: The FS request (its `fs_id` is yours to choose).
            idempotency_key: Reused on retries; a fresh UUID when omitted.

        Returns:
            The receipt: `fs_id`, revision, state RECEIVED and the response deadline.
        """
        response = await self._t.request(
            "POST", _BASE, json=request.model_dump(mode="json"), idempotency_key=idempotency_key
        )
        return FsAccepted.model_validate_json(response.content)

    @operation("get_flexibility_service")
    async def get(self, fs_id: str) -> FlexibilityService:
        """Read an FS: state, decision, transitions.

        Raises:
            NotFoundError: no such FS for this FO.
        """
        response = await self._t.request("GET", f"{_BASE}/{fs_id}")
        return FlexibilityService.model_validate_json(response.content)

    async def wait_for_decision(
        self,
        fs_id: str,
        *,
        timeout_s: float = 60.0,
        poll_interval_s: float = 0.5,
        max_poll_interval_s: float = 5.0,
    ) -> FlexibilityService:
        """Wait until the server has decided on the FS (it leaves RECEIVED) and return it.

        Polls `get` (side-effect free, so it does not disturb your notification feed cursor),
        first after `poll_interval_s`, then twice as long each time up to
        `max_poll_interval_s`. The decision is due by the receipt's `response_deadline`; an
        `FS_STATE_CHANGED` notification tells a webhook receiver without polling.

        Returns:
            The FS in its first state after RECEIVED: ACCEPTED, PARTIALLY_ACCEPTED, REJECTED,
            or already further (SCHEDULED, ARMED, ACTIVE, CANCELLED, ...).

        Raises:
            FsDecisionTimeoutError: still RECEIVED after `timeout_s` (its `fs` is the last view).
            NotFoundError: no such FS for this FO.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        interval = poll_interval_s
        while (fs := await self.get(fs_id)).state is FsState.RECEIVED:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise FsDecisionTimeoutError(fs, timeout_s)
            await self._t.sleep(min(interval, remaining))
            interval = min(interval * 2, max_poll_interval_s)
        return fs

    @operation("list_flexibility_services")
    def list(
        self,
        *,
        state: FsState | None = None,
        fs_type: FsType | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[FlexibilityService]:
        """Iterate over this FO's FS, oldest first."""
        params = {
            "state": state.value if state else None,
            "fs_type": fs_type.value if fs_type else None,
        }
        return AsyncPager(self._t, _BASE, FlexibilityService, params, page_size)

    @operation("supersede_flexibility_service")
    async def supersede(
        self, request: FlexibilityServiceRequest, *, idempotency_key: str | None = None
    ) -> FsAccepted:
        """Replace an FS by a new revision (same `fs_id`, revision + 1)."""
        response = await self._t.request(
            "PUT",
            f"{_BASE}/{request.fs_id}",
            json=request.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return FsAccepted.model_validate_json(response.content)

    @operation("cancel_flexibility_service")
    async def cancel(
        self, fs_id: str, reason: str | None = None, *, idempotency_key: str | None = None
    ) -> FlexibilityService:
        """Cancel an FS that has not ended.

        Raises:
            ConflictError: the FS has already ended.
        """
        body = FsCancellation(reason=reason).model_dump(mode="json")
        response = await self._t.request(
            "POST", f"{_BASE}/{fs_id}/cancel", json=body, idempotency_key=idempotency_key
        )
        return FlexibilityService.model_validate_json(response.content)

    @operation("update_flexibility_service_setpoint")
    async def update_setpoint(
        self, fs_id: str, update: SetpointUpdate, *, idempotency_key: str | None = None
    ) -> FlexibilityService | StationCommand:
        """Send a new aggregate setpoint to a running SETPOINT FS.

        Args:
            fs_id: The FS.
            update: Power (W, + import) and a sequence number that must grow with every update.

        Returns:
            The FS once the stations have the setpoint (HTTP 200); or, from a server replica
            that does not hold the stations, the queued `StationCommand` (HTTP 202): follow it
            with `command` until it is APPLIED or FAILED.

        Raises:
            ConflictError: the FS is not running, or the sequence is not newer.
        """
        response = await self._t.request(
            "POST",
            f"{_BASE}/{fs_id}/setpoints",
            json=update.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return _fs_or_command(response.status_code, response.content)

    @operation("activate_flexibility_service")
    async def activate(
        self, fs_id: str, activation: ReserveActivation, *, idempotency_key: str | None = None
    ) -> FlexibilityService | StationCommand:
        """Activate reserved capacity of a running RESERVE FS (UC 2.5); like `update_setpoint`,
        a replica without the stations answers with the queued `StationCommand`."""
        response = await self._t.request(
            "POST",
            f"{_BASE}/{fs_id}/activations",
            json=activation.model_dump(mode="json"),
            idempotency_key=idempotency_key,
        )
        return _fs_or_command(response.status_code, response.content)

    @operation("get_flexibility_service_command")
    async def command(self, fs_id: str, command_id: str) -> StationCommand:
        """A station command of the FS (from a 202 answer) and whether it reached the stations."""
        response = await self._t.request("GET", f"{_BASE}/{fs_id}/commands/{command_id}")
        return StationCommand.model_validate_json(response.content)

    @operation("get_flexibility_service_measurements")
    async def measurements(
        self, fs_id: str, quantities: Sequence[Quantity] | None = None
    ) -> builtins.list[MeasurementSeries]:
        """Measured series of the FS's EVSEs (default: active power)."""
        params = {"quantity": [q.value for q in quantities] if quantities else None}
        response = await self._t.request("GET", f"{_BASE}/{fs_id}/measurements", params=params)
        return [MeasurementSeries.model_validate(item) for item in response.json()]

    @operation("list_flexibility_service_evidence")
    def evidence(self, fs_id: str, *, page_size: int | None = None) -> AsyncPager[EvidenceSample]:
        """High-resolution samples of the FS's local response (FFR, droop), oldest first."""
        return AsyncPager(self._t, f"{_BASE}/{fs_id}/evidence", EvidenceSample, None, page_size)

    @operation("get_flexibility_service_evidence_summary")
    async def evidence_summary(self, fs_id: str) -> EvidenceSummary:
        """Per event: ordered and delivered change, response time to 90 %, deviation."""
        response = await self._t.request("GET", f"{_BASE}/{fs_id}/evidence/summary")
        return EvidenceSummary.model_validate_json(response.content)

    @operation("get_flexibility_service_evidence_plot")
    async def evidence_plot(self, fs_id: str, event: int = 0) -> str:
        """Ordered vs delivered power of one event, as SVG text."""
        response = await self._t.request(
            "GET", f"{_BASE}/{fs_id}/evidence/plot", params={"event": event}
        )
        return response.text
