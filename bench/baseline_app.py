"""Baseline for P1/P2: FastAPI validating the same FS request body, with no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from fcsbe.model import FlexibilityServiceRequest, FsAccepted, FsState

app = FastAPI()


@app.post("/v1/flexibility-services", status_code=202)
async def accept(body: FlexibilityServiceRequest) -> FsAccepted:
    """Validate and answer, as the real route does, minus authentication and storage."""
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    return FsAccepted(
        fs_id=body.fs_id, revision=1, state=FsState.RECEIVED, response_deadline=deadline
    )
