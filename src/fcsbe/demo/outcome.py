"""What `fcsbe demo` reports: the steps in order, the options, each step's result and each FS's
outcome, and the `Reporter` seam that shows progress (the rich console, or nothing in tests).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from fcsbe.client import FcsbeError, FcsbeStatusError
from fcsbe.demo.plan import PlannedFs
from fcsbe.model import FsResult, FsState, FsType

__all__ = [
    "STEPS",
    "DemoOptions",
    "DemoReport",
    "FsOutcome",
    "Reporter",
    "StepFailed",
    "StepResult",
    "StepStatus",
    "failure_reason",
]

StepStatus = Literal["ok", "failed", "skipped"]

STEPS: tuple[tuple[str, str], ...] = (
    ("server", "Discover the server and its fleet"),
    ("enrol", "Enrol as an aggregator (operator issues the token)"),
    ("webhooks", "Register the webhook endpoint"),
    ("contract", "Propose a contract; the operator accepts it"),
    ("credentials", "Credentials check for every FS"),
    ("request", "Request one FS of each of the seven types"),
    ("decide", "FS decided by the server"),
    ("control", "Setpoint update and reserve activation"),
    ("complete", "FS run on the simulated fleet and complete"),
    ("notifications", "Notifications arrive (feed and webhooks)"),
    ("records", "DSR and proof of work fetched and verified offline"),
)
"""The steps in order: key and title."""


class StepFailed(Exception):
    """A step could not do what it promised; the message says what and, if known, why."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How to run the story."""

    server: str
    operator_token: str
    callback_url: str | None = None
    """Callback base URL to register; None: a local receiver on 127.0.0.1 (the server must
    allow loopback callbacks, as `sh scripts/dev.sh serve` does)."""
    window_s: int = 15
    """Length of every FS window, in seconds of real time."""
    lead_s: float = 4.0
    """Least time from the credentials checks to the start of the FS windows; a slow server
    gets more (the request step allows twice the time the checks took)."""
    timeout_s: float = 30.0
    """Longest wait for the server in any one step (decision, records, pushes)."""
    party_id: str = field(default_factory=lambda: "FO-DEMO-" + uuid.uuid4().hex[:6].upper())
    plot_dir: Path | None = None
    """Where the ordered vs delivered plots (SVG) of the droop and FFR are saved; None: not."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """How one step went."""

    key: str
    title: str
    status: StepStatus
    seconds: float
    detail: str


@dataclass(slots=True)
class FsOutcome:
    """What happened to one FS of the story, for the summary table."""

    planned: PlannedFs
    fs_id: str
    result: FsResult | None = None
    committed_w: float | None = None
    state: FsState | None = None
    control: str = ""
    notifications: int = 0
    delivered_wh: float | None = None
    intervals: int | None = None
    proof: str = ""
    evidence: str = ""
    """Droop and FFR: the events seen and the slowest response to 90 %, and the plot's file."""

    @property
    def fs_type(self) -> FsType:
        return self.planned.fs_type


@dataclass(slots=True)
class DemoReport:
    """Everything the story did: the steps and the FS."""

    party_id: str
    steps: list[StepResult] = field(default_factory=list)
    services: list[FsOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every step succeeded."""
        return len(self.steps) == len(STEPS) and all(s.status == "ok" for s in self.steps)


class Reporter(Protocol):
    """Shows progress while the story runs (the console, or nothing in tests)."""

    def step_started(self, key: str, title: str) -> None:
        """A step begins."""

    def step_note(self, text: str) -> None:
        """Something happened inside the running step."""

    def step_finished(self, result: StepResult) -> None:
        """A step ended (ok, failed or skipped)."""


def failure_reason(exc: BaseException) -> str:
    """One line for a failed step: the problem's status, detail and fields, or the error."""
    if isinstance(exc, FcsbeStatusError):
        detail = exc.problem.detail or exc.problem.title
        pointers = [e.pointer for e in exc.problem.errors or []]
        return f"{exc.status_code} {detail}" + (f" ({', '.join(pointers)})" if pointers else "")
    if isinstance(exc, StepFailed | FcsbeError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"
