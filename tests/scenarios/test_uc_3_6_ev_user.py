"""UC 3.6: the EV user's consent and limits take effect on the running FS at once.

An EV user invited by the CSP sets V2G consent in the app; their car connects to a V2G wallbox
and an FO's setpoint FS discharges it. The user withdraws consent: within the next control step
the EVSE stops discharging, the FO hears CONSENT_WITHDRAWN under the session's pseudonym only,
and the event log records it the same way. The session's pseudonym is made with the user's own
key, and erasing the user leaves the event log verifiable.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from fcsbe.client import AuthenticationError, FcsbeClient
from fcsbe.model import (
    ConsentWithdrawnNotification,
    EvLimitsChangedNotification,
    EvUserConsentLevel,
    EvUserLimits,
    FlexibilityServiceRequest,
    FsState,
    NotificationType,
)
from fcsbe.server.security.keys import ServerKeys
from fcsbe.server.security.pseudonyms import Pseudonymizer
from fcsbe.server.services.ev_users import access as ev_user_access
from fcsbe.server.services.event_log.audit import verify_log
from fcsbe.server.services.event_log.log import chain_pending
from fcsbe.server.settings import Settings
from fcsbe.server.storage.ev_users import EvUserKeyRow, EvUserRow
from fcsbe.server.storage.flexibility_services import FlexibilityServiceRow
from fcsbe.server.storage.infrastructure import EvSessionRow
from fcsbe.server.storage.records import ServiceRecordRow
from fcsbe.sim import Consent
from fcsbe.sim import EvUserLimits as SimLimits
from tests.scenarios.harness import harness, without_arrivals
from tests.support.factories import make_operator
from tests.support.fs_fixtures import request_body
from tests.support.public_effects import feed as read_feed

CONTRACT_ID = "NL-CSP-C12345678"
CARPARK = "SITE-CARPARK"


async def test_withdrawal_stops_discharge_and_tells_the_fo(settings: Settings) -> None:
    async with harness(settings, contract_sites=[CARPARK], fleet=without_arrivals) as h:
        factory = h.app.state.session_factory
        pseudonyms: Pseudonymizer = h.app.state.stations.pseudonyms
        async with factory() as db:
            link, created = await ev_user_access.invite(
                db,
                CONTRACT_ID,
                expires_in_s=600,
                base_url="https://cso.example",
                pseudonyms=pseudonyms,
                now=h.now,
            )
            await db.commit()
        assert created
        assert link.invite_url.startswith("https://cso.example/app/#invite=")
        transport = httpx.ASGITransport(app=h.app, raise_app_exceptions=False)
        async with FcsbeClient("http://fcsbe.test", transport=transport) as anonymous:
            token = await anonymous.ev_users.exchange_invite(link.invite_url.split("=", 1)[1])
        async with FcsbeClient(
            "http://fcsbe.test", token=token.access_token, transport=transport
        ) as app_user:
            await app_user.ev_users.set_consent(EvUserConsentLevel.V2G)
            await app_user.ev_users.set_limits(
                EvUserLimits(
                    min_soc_at_departure_pct=60,
                    soc_floor_pct=20,
                    max_energy_to_grid_kwh_per_day=20,
                )
            )

            # The user's car connects (the station reports V1G only; the user's V2G applies).
            sim = h.stations.simulator
            bidi = [
                s
                for s in await h.stations.sessions()
                if s.evse_id in h.evses_of(CARPARK) and s.consent_v2g and s.ev.bidirectional
            ]
            evse = bidi[0].evse_id
            ev = sim.session(bidi[0].session_key).ev
            sim.disconnect(evse)
            key = sim.connect_ev(
                evse,
                ev,
                70.0,
                h.now + timedelta(hours=8),
                SimLimits(min_soc_at_departure_pct=50.0),
                Consent(v1g=True, v2g=False),
                id_token=CONTRACT_ID,
            )
            await h.steps()
            assert sim.session(key).consent.v2g
            assert sim.session(key).limits.soc_floor_pct == 20.0
            assert (await app_user.ev_users.profile()).connected_sessions == 1

            # The session's pseudonym is made with the user's own key, not the deployment's
            # (the key is a secret no API serves, so it is read from its row).
            async with factory() as db:
                user = (await db.execute(select(EvUserRow))).scalar_one()
                key_row = await db.get(EvUserKeyRow, user.user_id)
                assert key_row is not None
                own = Pseudonymizer.for_subject(bytes.fromhex(key_row.key_hex))
                stored = (
                    await db.execute(
                        select(EvSessionRow).where(
                            EvSessionRow.disconnected_at.is_(None),
                            EvSessionRow.subject_ref == user.subject_ref,
                        )
                    )
                ).scalar_one()
            assert stored.session_ref == own.session_ref(key) != pseudonyms.session_ref(key)
            assert stored.subject_ref == user.subject_ref

            body = request_body(
                "fs-discharge",
                targets=[("EVSE", evse)],
                p_w=-5_000,
                start_in=timedelta(seconds=30),
                now=h.now,
                duration=timedelta(minutes=30),
            )
            await h.fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
            await h.run(60)
            fs = await h.fo.flexibility_services.get("fs-discharge")
            assert fs.state is FsState.ACTIVE, fs.response and fs.response.reasons
            assert await h.power_w([evse]) == pytest.approx(-5_000, rel=0.05)

            # A limits change reaches the live session at once and the FO hears of it.
            tighter = await app_user.ev_users.set_limits(
                EvUserLimits(
                    min_soc_at_departure_pct=65,
                    soc_floor_pct=25,
                    max_energy_to_grid_kwh_per_day=20,
                )
            )
            assert tighter.sessions_updated == 1
            assert sim.session(key).limits.soc_floor_pct == 25.0
            assert sim.session(key).limits.min_soc_at_departure_pct == 65.0
            await h.run(5)
            assert await h.power_w([evse]) == pytest.approx(-5_000, rel=0.05)

            withdrawn = await app_user.ev_users.withdraw()
            assert withdrawn.consent_level is EvUserConsentLevel.NONE
            assert withdrawn.sessions_updated == 1
            await h.run(5)  # one station step and one execution pass
            assert await h.power_w([evse]) >= 0.0

            # Participation: from the FS's record, the user's share of the settlement is pro
            # rata to the energy their session moved (3 of 4 kWh here). The record is written
            # on its row: a setup with chosen energies, not a check of an effect.
            async with factory() as db:
                fs_row = (
                    await db.execute(
                        select(FlexibilityServiceRow).where(
                            FlexibilityServiceRow.fs_id == "fs-discharge"
                        )
                    )
                ).scalar_one()
                db.add(
                    ServiceRecordRow(
                        fs_pk=fs_row.id,
                        fo_party_id="FO-A",
                        fs_id="fs-discharge",
                        revision=1,
                        digest="0" * 64,
                        record={
                            "fs_id": "fs-discharge",
                            "fs_type": "SETPOINT",
                            "window": body["window"],
                            "sessions": [
                                {
                                    "session_ref": stored.session_ref,
                                    "evse_id": evse,
                                    "energy_charged_wh": 1000.0,
                                    "energy_injected_wh": 2000.0,
                                },
                                {
                                    "session_ref": "ps_someone_else_1",
                                    "evse_id": evse,
                                    "energy_charged_wh": 1000.0,
                                    "energy_injected_wh": 0.0,
                                },
                            ],
                            "settlement": {"currency": "EUR", "net_amount": 3.0},
                        },
                        evidence=[],
                        created_at=h.now,
                    )
                )
                await db.commit()
            (took_part,) = await app_user.ev_users.participations()
            assert (took_part.fs_id, took_part.session_ref) == ("fs-discharge", stored.session_ref)
            assert (took_part.energy_charged_wh, took_part.energy_injected_wh) == (1000, 2000)
            assert (took_part.remuneration, took_part.currency) == (Decimal("2.25"), "EUR")

        # What the FO is told and what the log records, read as the FO and the operator do.
        (note,) = await read_feed(h.app, h.fo, NotificationType.CONSENT_WITHDRAWN)
        (changed,) = await read_feed(h.app, h.fo, NotificationType.EV_LIMITS_CHANGED)
        assert isinstance(changed, EvLimitsChangedNotification)
        assert changed.data.session_refs == [stored.session_ref]
        assert isinstance(note, ConsentWithdrawnNotification)
        assert note.data.session_refs == [stored.session_ref]
        assert note.data.consent_ref == stored.consent_id
        async with factory() as db:
            while await chain_pending(db):  # as the chaining worker does
                pass
            await db.commit()
        async with FcsbeClient(
            "http://fcsbe.test", token=await make_operator(factory), transport=transport
        ) as op:
            sent = [r async for r in op.notifications.admin_list()]
            assert [
                r.fo_party_id for r in sent if r.type is NotificationType.CONSENT_WITHDRAWN
            ] == ["FO-A"]
            logged = [
                e for e in await op.event_log.list().to_list() if e.type.startswith("EV_USER_")
            ]
            assert "EV_USER_CONSENT_WITHDRAWN" in {e.type for e in logged}
            texts = note.model_dump_json() + " ".join(f"{e.object_ref} {e.summary}" for e in logged)
            assert CONTRACT_ID not in texts
            assert key not in texts

            # Erasure: the key and the personal rows go, the event log still verifies.
            erased = await op.ev_users.erase(user.user_id)
            assert erased.removed["keys"] == 1
            assert erased.removed["tokens"] == 1
            assert await op.ev_users.list_users().to_list() == []
        async with FcsbeClient(
            "http://fcsbe.test", token=token.access_token, transport=transport
        ) as erased_user:
            with pytest.raises(AuthenticationError):
                await erased_user.ev_users.profile()
        # The pseudonym key, and the session's link to the subject, are never served: read them.
        async with factory() as db:
            assert (await db.execute(select(EvUserKeyRow))).first() is None
            row = await db.get(EvSessionRow, stored.session_ref)
            assert row is not None
            assert row.subject_ref is None
            assert row.data["evu_limits"] is None
            while await chain_pending(db):
                pass
            await db.commit()
            # A full audit recomputes every entry's hash from the stored rows, beyond the API.
            keys = ServerKeys.load(settings.data_dir)
            audit = await verify_log(db, keys.public_jwks() if keys else None)
            assert audit.intact, audit.reason
            assert audit.entries > 0
