"""UC 3.4 disputes both ways, through the real client, server and operator command line.

Two SETPOINT FS run on two sites of the simulated fleet and are recorded from the meters. The
FO disputes both records. The CSO sees the open disputes (`fcsbe admin disputes list`):

- the first, about the baseline, it answers with a corrected record revision (rebuilt with the
  per-EV trend baseline, `fcsbe admin disputes answer --decision REVISE`); a new proof of work
  is issued for it, the FO verifies it offline and accepts: the FS is PROVEN on revision 2,
  whose settlement is the one that counts;
- the second it rejects with reasons (`client.admin.answer_dispute`); the FO escalates: the FS
  stays DISPUTED, to be settled outside the interface.

Every step is signed (the FO verifies each with the CSO's keys), logged and notified.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta

from fcsbe.client.proofs import verify_dispute
from fcsbe.model import (
    BaselineMethod,
    DisputeEscalatedNotification,
    DisputeStatus,
    FlexibilityServiceRequest,
    FsState,
    NotificationType,
)
from fcsbe.server.notifications.sequencer import assign_sequence
from fcsbe.server.settings import Settings
from tests.scenarios.harness import harness, without_arrivals
from tests.scenarios.operator_cli import fcsbe_admin
from tests.scenarios.settlement_steps import operator_client, prove, record_and_prove
from tests.support.fs_fixtures import request_body


async def test_disputes_answered_by_the_cso_both_ways(settings: Settings) -> None:
    async with harness(settings, fleet=without_arrivals) as h, AsyncExitStack() as stack:
        fo = h.fo
        jwks = (await fo.discovery.version_details()).jwks
        for fs_id, site in (("fs-revised", "SITE-DEPOT"), ("fs-rejected", "SITE-CARPARK")):
            body = request_body(
                fs_id,
                fs_type="SETPOINT",
                targets=[("SITE", site)],
                start_in=timedelta(seconds=300),
                duration=timedelta(minutes=6),
                minimum_acceptance_pct=1,
                now=h.now,
                parameters={
                    "fs_type": "SETPOINT",
                    "resolution_s": 360,
                    "periods": [{"start_offset_s": 0, "p_w": 10_000.0}],
                },
            )
            await fo.flexibility_services.create(FlexibilityServiceRequest.model_validate(body))
        await h.steps()
        await h.run(300 + 360 + 5, tick_s=30)
        await record_and_prove(h)
        original = await fo.records.get("fs-revised")
        assert original.baseline is not None
        assert original.baseline.method is BaselineMethod.METER_BEFORE_ACTIVATION

        # The FO disputes both records.
        await fo.records.validate(
            "fs-revised",
            "DISPUTE",
            ["the taper of our EVs is counted as flexibility"],
            reason_code="BASELINE",
        )
        await fo.records.validate(
            "fs-rejected", "DISPUTE", ["our own meter shows 5 % more"], reason_code="METER_DATA"
        )
        opened = await fo.records.dispute("fs-revised")
        assert opened.status is DisputeStatus.OPEN
        assert opened.answer_due - opened.opened_at == timedelta(days=10)

        # The CSO sees them and answers: a corrected revision, and a rejection.
        operator = await operator_client(h, stack)
        listed = await fcsbe_admin(h.app, "disputes", "list", "--status", "OPEN", "--json")
        assert "fs-revised" in listed.output
        assert "fs-rejected" in listed.output
        await fcsbe_admin(
            h.app,
            "disputes",
            "answer",
            opened.dispute_id,
            "--decision",
            "REVISE",
            "--reason-code",
            "BASELINE",
            "--baseline-method",
            "METER_TREND",
            "--reason",
            "rebuilt with each EV's trend before the window",
        )
        other = (await fo.records.dispute("fs-rejected")).dispute_id
        rejected = await operator.admin.answer_dispute(
            other,
            {
                "answer": "REJECT",
                "reason_code": "METER_DATA",
                "reasons": ["the certified EVSE meters agree with the record"],
            },
        )
        assert rejected.status is DisputeStatus.REJECTED

        # Revision 2 of the first record has its own proof; the FO verifies it and accepts.
        await prove(h)
        verdict, revised, proof = await fo.records.verify("fs-revised", jwks)
        assert verdict.valid, verdict.problems
        assert (revised.record_revision, proof.record_revision) == (2, 2)
        assert revised.correction is not None
        assert revised.correction.supersedes_digest != proof.dsr_digest
        assert revised.baseline is not None
        assert revised.baseline.method is BaselineMethod.METER_TREND
        assert len(revised.baseline.per_ev) == len(original.meters)
        # The measured power is the same; only the baseline, and so what was delivered, moved.
        assert [i.measured_w for i in revised.intervals] == [
            i.measured_w for i in original.intervals
        ]
        answer = await fo.records.dispute("fs-revised")
        assert (answer.status, answer.record_revision) == (DisputeStatus.REVISED, 2)
        accepted = await fo.records.respond_to_dispute("fs-revised", "ACCEPT")
        assert accepted.status is DisputeStatus.ACCEPTED
        assert (await fo.flexibility_services.get("fs-revised")).state is FsState.PROVEN
        assert (await fo.records.proof("fs-revised")).validation.status.value == "ACCEPTED"
        # Settlement follows the final revision.
        assert (await fo.records.get("fs-revised")).settlement == revised.settlement

        # The FO escalates the rejection: the FS stays DISPUTED.
        escalated = await fo.records.respond_to_dispute(
            "fs-rejected", "ESCALATE", ["to the arbiter named in the contract"]
        )
        assert escalated.status is DisputeStatus.ESCALATED
        assert escalated.closed_at is not None
        assert (await fo.flexibility_services.get("fs-rejected")).state is FsState.DISPUTED

        # Every step signed by the CSO, logged and notified.
        for dispute in (accepted, escalated):
            assert len(verify_dispute(dispute, jwks)) == 3
        assert [s.step for s in accepted.steps] == ["OPENED", "REVISED", "ACCEPTED"]
        assert [s.step for s in escalated.steps] == ["OPENED", "REJECTED", "ESCALATED"]
        await prove(h)
        logged = [e.type for e in await fo.event_log.list(fs_id="fs-rejected").to_list()]
        assert [t for t in logged if t.startswith("DISPUTE_")] == [
            "DISPUTE_OPENED",
            "DISPUTE_REJECTED",
            "DISPUTE_ESCALATED",
        ]
        async with h.app.state.session_factory() as db:
            await assign_sequence(db)  # as the delivery worker does
            await db.commit()
        feed = await fo.notifications.feed().to_list()
        steps = [n for n in feed if n.type.value.startswith("DISPUTE_")]
        assert [n.type for n in steps if n.fs_id == "fs-revised"] == [
            NotificationType.DISPUTE_OPENED,
            NotificationType.DISPUTE_ANSWERED,
            NotificationType.DISPUTE_ACCEPTED,
        ]
        escalation = next(n for n in steps if n.type is NotificationType.DISPUTE_ESCALATED)
        assert isinstance(escalation, DisputeEscalatedNotification)
        assert escalation.data.status is DisputeStatus.ESCALATED
