"""The API fuzzing test judges answers, not speed: no timeout or deadline a busy machine can hit."""

from __future__ import annotations

import pytest

pytest.importorskip("schemathesis")

from tests.security import test_api_fuzzing as fuzzing


def test_no_request_timeout_a_slow_machine_can_hit() -> None:
    timeout = fuzzing.CONFIG.projects.default.request_timeout_for()
    assert timeout is not None
    assert timeout >= 300


def test_no_hypothesis_deadline() -> None:
    settings = fuzzing.test_api._hypothesis_internal_use_settings  # type: ignore[attr-defined]
    assert settings.deadline is None
