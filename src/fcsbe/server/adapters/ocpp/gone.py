"""A station that goes away while the server talks to it.

Stations drop connections all the time (power cuts, mobile networks, a reboot in the middle of
the boot sequence). A send on a connection the station has closed raises a `ConnectionError`
(the endpoint's `StationGone`), which ends that station's handling quietly: one line in the
log, never an ERROR with a traceback, which is kept for what the server itself got wrong.
"""

from __future__ import annotations

import asyncio
import logging

__all__ = ["log_task_end"]

log = logging.getLogger("fcsbe.stations.ocpp")


def log_task_end(task: asyncio.Task[object]) -> None:
    """Done-callback of a station's background task (discovery, re-sending after a boot):
    a station gone meanwhile is a normal event; anything else is the server's error."""
    if task.cancelled():
        return
    error = task.exception()
    if error is None:
        return
    if isinstance(error, ConnectionError):
        log.info("%s: the station went away before it ended (%s)", task.get_name(), error)
        return
    log.error("%s failed", task.get_name(), exc_info=error)
