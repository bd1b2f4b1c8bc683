"""Station logins: a station logging in again costs no hash check until its password changes;
hash checks run a few at a time; a flood of wrong passwords is refused before any check; a
station that leaves in the middle of its boot is a normal event, not a server error."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest
from websockets.exceptions import InvalidStatus

from fcsbe.server.adapters.ocpp.endpoint import station_logins
from fcsbe.server.adapters.ocpp.provisioning import issue_passwords
from fcsbe.server.security.station_logins import LoginOutcome, StationLogins
from fcsbe.server.security.station_passwords import hash_password, verify_password
from tests.server.adapters.ocpp.conftest import CS_ID, Served


async def _status_of(served: Served, password: str | None = None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        await served.open(password=password)
    return int(refused.value.response.status_code)


async def _login(served: Served, password: str | None = None) -> None:
    ws = await served.open(password=password)
    await ws.close()


async def test_logins_again_skip_the_hash_check_until_set_password_and_floods_are_refused(
    served: Served,
) -> None:
    logins = station_logins(served.app.state)
    assert isinstance(logins, StationLogins)
    checks = logins.hash_checks
    for _ in range(3):
        await _login(served)
    assert logins.hash_checks == checks + 1
    async with served.factory() as db:  # what `fcsbe admin stations set-password` does
        fresh = (await issue_passwords(db, [CS_ID]))[CS_ID]
        await db.commit()
    assert await _status_of(served) == 401  # the old password no longer passes, cached or not
    await _login(served, fresh)
    await _login(served, fresh)
    assert logins.hash_checks == checks + 3
    # A flood of wrong passwords: refused before any hash check once past the limit (a small
    # one here; the setting is FCSBE_OCPP_LOGIN_FAILURES_PER_STATION).
    served.app.state.station_logins = logins = StationLogins(failures_per_station=3)
    statuses = [await _status_of(served, f"wrong-password-{k:04d}") for k in range(5)]
    assert statuses == [401] * 3 + [429] * 2
    assert logins.hash_checks == 3
    assert await _status_of(served, fresh) == 429  # even the right one waits out the minute
    assert logins.hash_checks == 3


async def test_a_station_leaving_mid_boot_is_one_line_not_an_error(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="fcsbe.stations.ocpp")
    ws = await served.open(subprotocols=["ocpp2.1"])
    boot = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
    await ws.send(json.dumps([2, "b-1", "BootNotification", boot]))
    await ws.close()  # before the answer, the discovery and the re-sending

    def closed() -> bool:
        return any("closed its connection" in r.getMessage() for r in caplog.records)

    for _ in range(300):  # the station's handling and its background tasks end
        if closed() and not served.adapter._tasks:
            break
        await asyncio.sleep(0.01)
    assert closed()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == []


async def test_failures_per_source_address_are_limited_over_a_sliding_minute() -> None:
    clock = [0.0]
    logins = StationLogins(failures_per_station=0, failures_per_source=3, clock=lambda: clock[0])
    stored = hash_password("the-right-password")
    outcomes = [
        await logins.check(f"CS-{k}", "a-wrong-password", stored, "192.0.2.7") for k in range(4)
    ]
    assert outcomes == [LoginOutcome.REFUSED] * 3 + [LoginOutcome.LIMITED]
    # another address is not held up by this one
    assert await logins.check("CS-9", "the-right-password", stored, "192.0.2.8") == "accepted"
    clock[0] = 61.0
    assert await logins.check("CS-0", "the-right-password", stored, "192.0.2.7") == "accepted"


async def test_hash_checks_run_at_most_concurrency_at_once() -> None:
    lock = threading.Lock()
    running, most = [0], [0]

    def counted(password: str, stored: str | None) -> bool:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return verify_password(password, stored)
        finally:
            with lock:
                running[0] -= 1

    logins = StationLogins(concurrency=2, verify=counted)
    stored = hash_password("the-right-password")
    outcomes = await asyncio.gather(
        *(logins.check(f"CS-{k}", "the-right-password", stored, "192.0.2.7") for k in range(6))
    )
    assert set(outcomes) == {LoginOutcome.ACCEPTED}
    assert 1 <= most[0] <= 2
