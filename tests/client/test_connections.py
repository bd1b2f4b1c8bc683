"""The client keeps one connection per request in flight alive: a steady load never reconnects.

httpx keeps only 20 idle connections by default (and httpcore 1.0 evicts idle connections
counting busy ones too), so 32 requests in flight would reconnect on every round. The peer here
is a minimal HTTP/1.1 server on loopback (a process boundary), counting the connections it gets.
"""

from __future__ import annotations

import asyncio
import json

from fcsbe.client import FcsbeClient

IN_FLIGHT = 32
ROUNDS = 4
BODY = json.dumps({"versions": [{"version": "1", "url": "http://peer/v1"}]}).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


async def test_a_steady_load_reuses_its_connections() -> None:
    accepted = received = 0
    all_in_flight = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted, received
        accepted += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                received += 1
                if received % IN_FLIGHT == 0:
                    all_in_flight.set()
                await all_in_flight.wait()  # answer once the whole round is in flight
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with FcsbeClient(f"http://127.0.0.1:{port}") as client:
            for _ in range(ROUNDS):
                all_in_flight.clear()
                calls = [client.discovery.versions() for _ in range(IN_FLIGHT)]
                answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=10)
                assert all(a.versions[0].version == "1" for a in answers)
    finally:
        server.close()
        await server.wait_closed()
    assert received == IN_FLIGHT * ROUNDS
    assert accepted == IN_FLIGHT
