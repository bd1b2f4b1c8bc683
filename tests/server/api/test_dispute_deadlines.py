"""The dispute deadlines are settings: each turn is due as `FCSBE_DISPUTE_*_DAYS` say."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from fcsbe.client import FcsbeClient
from fcsbe.server.settings import Settings, settings_markdown
from tests.server.api.test_disputes import _disputed
from tests.server.api.test_records import fo
from tests.support.factories import make_operator

__all__ = ["fo"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"dispute_answer_days": 2.0, "dispute_response_days": 0.5})


async def test_each_turn_is_due_as_the_settings_say(app: FastAPI, fo: FcsbeClient) -> None:
    dispute_id = await _disputed(app, fo, "fs-quick")
    opened = await fo.records.dispute("fs-quick")
    assert opened.answer_due - opened.opened_at == timedelta(days=2)
    token = fo.token
    fo.token = await make_operator(app.state.session_factory)
    answer = {"answer": "REJECT", "reason_code": "METER_DATA", "reasons": ["the meters agree"]}
    answered = await fo.admin.answer_dispute(dispute_id, answer)
    fo.token = token
    assert answered.response_due is not None
    assert answered.response_due - answered.steps[-1].at == timedelta(hours=12)


def test_the_defaults_are_ten_days_each() -> None:
    defaults = Settings.model_fields
    assert defaults["dispute_answer_days"].default == 10.0
    assert defaults["dispute_response_days"].default == 10.0
    assert "`FCSBE_DISPUTE_ANSWER_DAYS` | `10.0`" in settings_markdown()
