"""Random commands of every kind, from several FS, on several EVSEs and sites, over time, on
stations of every version and capability: the planner's calls, confirmed or rejected at
random and re-sent after reconnects, never break an OCPP smart-charging rule (the semantic
checker finds nothing), always validate against the library's schemas, and never put an EVSE's
import cap above what was asked.

Counts for a larger run (calls checked, violations found):
    FCSBE_OCPP_EXAMPLES=2000 PYTHONPATH=src:. \
        python -m tests.server.adapters.ocpp.test_checker_properties
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcsbe.server.adapters.base import (
    ClearCommand,
    Command,
    Control,
    ControlLevel,
    ControlTarget,
    DroopCommand,
    FfrCommand,
    LimitCommand,
    SetpointCommand,
)
from fcsbe.server.adapters.ocpp.checker import check_calls
from fcsbe.server.adapters.ocpp.ledger import ExternalProfile, ProfileLedger
from fcsbe.server.adapters.ocpp.profiles import (
    OcppCall,
    Refusal,
    StationLimits,
    plan_calls,
    resend_calls,
    station_purpose,
)
from tests.server.adapters.ocpp.test_profiles import assert_schema_valid

START = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
EVSES = {f"NL*ABC*E1*{n}": n for n in range(1, 5)}

power = st.floats(0.0, 30_000.0, allow_nan=False).map(lambda x: round(x, 3))
maybe_power = st.none() | power

limits_only = st.builds(LimitCommand, maybe_power, maybe_power) | st.just(ClearCommand())
import_setpoints = st.builds(SetpointCommand, st.floats(0.0, 22_000.0, allow_nan=False))
setpoints = st.builds(
    SetpointCommand,
    st.floats(-11_000.0, 22_000.0, allow_nan=False),
    st.none() | st.floats(-5_000.0, 5_000.0, allow_nan=False),
)
# The optional fields are drawn explicitly (builds would fill them with any float): asymmetric
# settings, and an ordered frequency-watt curve (Dynamic Containment's shape).
DC_CURVE = ((49.5, -8_000.0), (49.8, -640.0), (49.985, 0.0), (50.015, 0.0), (50.5, 8_000.0))
VOLT_VAR = ((92.0, 44.0), (98.0, 0.0), (102.0, 0.0), (108.0, -44.0))
VOLT_WATT = ((90.0, -5_000.0), (95.0, 0.0), (105.0, 0.0), (110.0, 5_000.0))
RATED = dict.fromkeys(range(1, 9), 22_000.0)
"""Every EVSE's rated power (the basis of the volt-watt and frequency-watt DER curves)."""
droops = st.builds(
    DroopCommand,
    st.just(50.0),
    st.just(0.02),
    st.just(4.0),
    st.floats(-11_000.0, 0.0),
    st.floats(0.0, 22_000.0),
    st.none() | power,
    st.just(0.5),
    deadband_under_hz=st.none() | st.just(0.05),
    droop_under_pct=st.none() | st.just(2.0),
    curve=st.just(()) | st.just(DC_CURVE),
    volt_var=st.just(()) | st.just(VOLT_VAR),
    volt_watt=st.just(()) | st.just(VOLT_WATT),
)
other_droops = st.builds(
    DroopCommand,
    st.sampled_from([50.0, 60.0]),
    st.sampled_from([0.0, 0.2]),
    st.sampled_from([2.0, 10.0]),
    st.floats(-11_000.0, 0.0),
    st.floats(0.0, 22_000.0),
    st.none(),
    st.just(0.0),
    deadband_under_hz=st.none(),
    droop_under_pct=st.none(),
    curve=st.just(()),
    volt_var=st.just(()),
    volt_watt=st.just(()),
)
ffrs = st.builds(
    FfrCommand,
    st.floats(49.0, 50.5),
    st.floats(-10_000.0, 10_000.0),
    st.floats(0.0, 2.0),
    st.floats(1.0, 900.0),
    st.floats(0.0, 60.0),
    levels=st.just(()) | st.just(((49.7, -10_000.0, 1.0), (49.5, -20_000.0, 0.5))),
    detection_delay_s=st.sampled_from([0.0, 0.1]),
    deactivation_ramp_s=st.sampled_from([0.0, 5.0]),
    latched=st.booleans(),
)
anything: st.SearchStrategy[Control] = st.one_of(limits_only, setpoints, other_droops, ffrs)


def controls_for(limits: StationLimits) -> st.SearchStrategy[Control]:
    """Mostly what the station can do (a few asks it cannot, to be refused)."""
    able: list[st.SearchStrategy[Control]] = [limits_only, limits_only, import_setpoints]
    if limits.bidirectional:
        able += [setpoints, ffrs]
    if limits.version == "2.1" and (limits.der or limits.v2x):
        able.append(droops)
    capable = st.one_of(*able)
    return st.integers(0, 15).flatmap(lambda i: anything if i == 0 else capable)


evse_targets = st.sampled_from(sorted(EVSES)).map(lambda e: ControlTarget(ControlLevel.EVSE, e))
site_targets = st.sampled_from(["S1", "S2"]).map(lambda s: ControlTarget(ControlLevel.SITE, s))
ends = st.none() | st.floats(0.2, 7_200.0).map(lambda s: timedelta(seconds=s))


@st.composite
def commands(draw: st.DrawFn, now: datetime, limits: StationLimits) -> Command:
    """One command on an EVSE or site, from one of three FS, ending within two hours."""
    end = draw(ends)
    fs_id = draw(st.sampled_from(["fs-a", "fs-b", "fs-c"]))
    control = draw(controls_for(limits))
    on_site = isinstance(control, LimitCommand | ClearCommand) and draw(st.booleans())
    target = draw(site_targets if on_site else evse_targets)
    return Command(target, control, fs_id, None if end is None else now + end)


limits_strategy = st.builds(
    StationLimits,
    st.sampled_from(["1.6", "2.0.1", "2.1"]),
    st.sampled_from([("W", "A"), ("W",), ("A",)]),
    st.integers(0, 8),
    st.integers(1, 24),
    st.integers(3, 20),
    st.sampled_from([1, 3]),
    st.sampled_from([230.0, 120.0]),
    st.booleans(),
    st.booleans(),
)


@dataclass
class Counts:
    """What the random runs checked."""

    calls: int = 0
    refusals: int = 0
    violations: int = 0


COUNTS = Counts()


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[StationLimits, ProfileLedger, list[tuple[int, list[Command], list[bool], bool]]]:
    """A station, the profiles it already holds that are not ours, and steps: seconds later,
    the commands, which calls it accepts, and whether it reconnects first."""
    limits = draw(limits_strategy)
    ledger = ProfileLedger()
    for n in range(draw(st.integers(0, 3))):
        evse = draw(st.integers(0, 4))
        purpose = station_purpose(limits.version) if evse == 0 else "TxDefaultProfile"
        level = draw(st.integers(0, limits.max_stack_level))
        ledger.note_external(ExternalProfile(n + 1, evse, purpose, level))
    steps = []
    now = START
    for _ in range(draw(st.integers(1, 8))):
        later = draw(st.integers(0, 3_600))
        now += timedelta(seconds=later)
        batch = draw(st.lists(commands(now, limits), min_size=1, max_size=6))
        accepted = draw(st.lists(st.booleans(), min_size=12, max_size=12))
        steps.append((later, batch, accepted, draw(st.booleans())))
    return limits, ledger, steps


def assert_caps_hold(
    batch: list[Command], calls: list[OcppCall], limits: StationLimits, now: datetime
) -> None:
    """Every import cap the batch leaves in force on an EVSE is in the first period of its
    profile, never above what was asked (rounding included, A converted back to W)."""
    caps: dict[str, float | None] = {}
    for command in batch:
        if command.target.level is not ControlLevel.EVSE:
            continue
        control = command.control
        if isinstance(control, ClearCommand):
            caps.pop(command.target.id, None)
        elif isinstance(control, LimitCommand):
            lasting = command.valid_until is None or command.valid_until > now + timedelta(
                seconds=1
            )
            caps[command.target.id] = control.max_import_w if lasting else None
    scale = 1.0 if limits.unit == "W" else limits.phases * limits.voltage_v
    for evse_id, cap in caps.items():
        if cap is None:
            continue
        (call,) = [c for c in calls if c.evse_id == evse_id and c.action == "SetChargingProfile"]
        body = call.payload.get("chargingProfile") or call.payload["csChargingProfiles"]
        schedule = body["chargingSchedule"]
        first = (schedule[0] if isinstance(schedule, list) else schedule)["chargingSchedulePeriod"][
            0
        ]
        assert first["limit"] * scale <= cap + 1e-6, (cap, first)


def run_scenario(
    limits: StationLimits,
    ledger: ProfileLedger,
    steps: list[tuple[int, list[Command], list[bool], bool]],
) -> None:
    """Plan, check, schema-validate, confirm (or not), persist and reload, step by step."""
    now = START
    for later, batch, accepted, reconnect in steps:
        now += timedelta(seconds=later)
        if reconnect:
            again = resend_calls(ledger, limits, now, RATED)
            COUNTS.calls += len(again)
            problems = check_calls(ledger, again, limits, now)
            COUNTS.violations += len(problems)
            assert problems == []
            for call in again:
                assert_schema_valid(call, limits.version)
                ledger.confirm(call)
        calls = plan_calls(ledger, batch, EVSES, limits, now, RATED)
        if isinstance(calls, Refusal):
            COUNTS.refusals += 1
            assert calls.reason.startswith("NOT_CAPABLE: "), calls
            continue
        COUNTS.calls += len(calls)
        problems = check_calls(ledger, calls, limits, now)
        COUNTS.violations += len(problems)
        assert problems == [], (problems, calls)
        assert_caps_hold(batch, calls, limits, now)
        for call, ok in zip(calls, accepted * 4, strict=False):
            assert_schema_valid(call, limits.version)
            if ok:
                ledger.confirm(call)
        ledger = ProfileLedger.from_json(ledger.to_json())
        ledger.prune(now)


EXAMPLES = int(os.environ.get("FCSBE_OCPP_EXAMPLES", "40"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_random_commands_never_break_an_ocpp_smart_charging_rule(
    scenario: tuple[
        StationLimits, ProfileLedger, list[tuple[int, list[Command], list[bool], bool]]
    ],
) -> None:
    run_scenario(*scenario)


def test_the_random_runs_checked_calls() -> None:
    """The property above is not vacuous: a fixed, mixed scenario produces calls on every
    version (the random runs count theirs in COUNTS)."""
    for version in ("1.6", "2.0.1", "2.1"):
        limits = StationLimits(version, v2x=True, der=True)  # type: ignore[arg-type]
        batch = [
            Command(ControlTarget(ControlLevel.SITE, "S1"), LimitCommand(30_000.0), "a", None),
            Command(
                ControlTarget(ControlLevel.EVSE, "NL*ABC*E1*1"),
                LimitCommand(7_000.0),
                "b",
                START + timedelta(minutes=20),
            ),
        ]
        before = COUNTS.calls
        run_scenario(
            limits,
            ProfileLedger(),
            [(0, batch, [True] * 12, False), (60, batch, [True] * 12, True)],
        )
        assert COUNTS.calls - before == 6


if __name__ == "__main__":
    test_random_commands_never_break_an_ocpp_smart_charging_rule()
    print(
        f"{EXAMPLES} random scenarios: {COUNTS.calls} calls checked, "
        f"{COUNTS.refusals} refusals (NOT_CAPABLE), {COUNTS.violations} violations found"
    )
