"""Shared steps of the settlement scenarios: contract performance terms, the server's record
and proof loops, and an operator client on a harness."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from fcsbe.client import FcsbeClient, RetryPolicy
from fcsbe.model import ContractTerms
from fcsbe.server.services.event_log.log import chain_pending
from fcsbe.server.services.event_log.tree import tree_step
from fcsbe.server.services.flexibility_services.execution import RECORD_DELAY_S
from fcsbe.server.services.records.disputes import proofs_step
from fcsbe.server.storage.contracts import ContractRow
from tests.scenarios.harness import Harness
from tests.support.flows import init_server

__all__ = ["PENALTY_TERMS", "operator_client", "record_and_prove", "set_performance"]

PENALTY_TERMS: dict[str, Any] = {
    "response_time_s": 30.0,
    "full_activation_time_s": 300.0,
    "tolerance_pct": 10.0,
    "min_delivery_pct": 80.0,
    "penalty_per_pct_shortfall": 2.0,
    "forfeit_availability": True,
}
"""Performance terms with penalties (the contract example's prices: availability 12.5 EUR per
MW per hour, activation 95 EUR/MWh, deficiency 150 EUR/MWh)."""


async def set_performance(h: Harness, **performance: Any) -> None:
    """Give FO-A's contract these performance terms (as an accepted amendment would)."""
    # A setup write, not a check: the harness seeds its contract as a row without revisions,
    # which the amendment route cannot amend.
    async with h.app.state.session_factory() as session:
        row = (await session.execute(select(ContractRow))).scalars().one()
        terms = ContractTerms.model_validate(row.terms).model_dump(mode="json")
        terms["performance"] = {**terms["performance"], **performance}
        row.terms = ContractTerms.model_validate(terms).model_dump(mode="json")
        await session.commit()


async def record_and_prove(h: Harness) -> None:
    """Wait out the late-readings delay (the executor then records), then do what the event
    log and proof loops do: chain, grow the tree, apply dispute deadlines, issue proofs."""
    await h.run(RECORD_DELAY_S + 10, tick_s=20)
    await prove(h)


async def prove(h: Harness) -> None:
    async with h.app.state.session_factory() as session:
        await chain_pending(session)
        await tree_step(session, h.app.state.keys, 0.0)
        await proofs_step(session, h.app.state.keys)
        await session.commit()


async def operator_client(h: Harness, stack: AsyncExitStack) -> FcsbeClient:
    """The CSO's operator client on the harness's app (the server's party initialised first, as
    `fcsbe admin party init` does, so that the operator's commands know who they are)."""

    async def no_sleep(_s: float) -> None:
        return None

    token = await init_server(h.app)
    transport = httpx.ASGITransport(app=h.app, raise_app_exceptions=False)
    client = FcsbeClient(
        "http://fcsbe.test", token=token, transport=transport, retry=RetryPolicy(), sleep=no_sleep
    )
    return await stack.enter_async_context(client)


HOUR = timedelta(hours=1)
