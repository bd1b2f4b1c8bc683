"""Security events: what the event log and the affected party learn about refused requests.

A bad signature, a replayed signature or a revoked token in use is recorded in the event log and
notified to the party it concerns (`SECURITY_EVENT`), so that an aggregator learns that its key
or token is being misused. Entries name the kind, the party and the credential or key id, never a
secret or personal data.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from fcsbe.model import NotificationType, SecurityEventData, Severity
from fcsbe.server.notifications.outbox import enqueue_notification
from fcsbe.server.services.event_log.log import append_event

__all__ = ["note_security_event"]


async def note_security_event(
    session: AsyncSession,
    *,
    kind: str,
    party_id: str,
    object_ref: str,
    detail: str,
    severity: Severity = Severity.WARNING,
    notify: bool = True,
) -> None:
    """Append a `SECURITY_<kind>` entry and (for FO parties) a `SECURITY_EVENT` notification."""
    await append_event(
        session,
        type=f"SECURITY_{kind}",
        object_ref=object_ref,
        summary=detail,
        party_id=party_id,
        payload={"kind": kind, "object_ref": object_ref},
        severity=severity.value,
    )
    if notify:
        data = SecurityEventData(kind=kind, severity=severity, detail=detail)
        await enqueue_notification(
            session,
            fo_party_id=party_id,
            type=NotificationType.SECURITY_EVENT.value,
            data=data.model_dump(mode="json"),
        )
