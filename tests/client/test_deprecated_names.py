"""The namespaces renamed to their server module's name keep their old names for one release."""

from __future__ import annotations

import pytest

from fcsbe.client import FcsbeClient, SyncFcsbeClient


async def test_old_namespace_names_warn_and_give_the_new_namespaces() -> None:
    async with FcsbeClient("http://fcsbe.test") as client:
        with pytest.deprecated_call(match="webhook_endpoints"):
            assert client.webhook_endpoint is client.webhook_endpoints
        with pytest.deprecated_call(match="ev_users"):
            assert client.ev_user is client.ev_users


def test_the_blocking_client_keeps_them_too() -> None:
    with SyncFcsbeClient("http://fcsbe.test") as client:
        with pytest.deprecated_call(match="webhook_endpoints"):
            assert client.webhook_endpoint is client.webhook_endpoints
        with pytest.deprecated_call(match="ev_users"):
            assert client.ev_user is client.ev_users
