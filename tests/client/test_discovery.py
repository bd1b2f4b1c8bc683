"""The client's discovery namespace against the in-process server."""

from __future__ import annotations

from fcsbe.client import FcsbeClient


async def test_discovery_through_the_client(client: FcsbeClient) -> None:
    versions = await client.discovery.versions()
    assert versions.versions[0].url.endswith("/v1")
    details = await client.discovery.version_details()
    assert details.version == "1"
    assert (await client.discovery.health())["status"] == "ok"
    assert (await client.discovery.readiness())["database"] == "ok"
