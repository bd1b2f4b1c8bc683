"""The client's transport splits its connections over small pools and frees them as answers end.

The peer is a minimal HTTP/1.1 server on loopback that holds every answer until a whole round is
in flight, so the pools must hold that many connections at once.
"""

from __future__ import annotations

import asyncio

import httpx

from fcsbe.client.pool import SHARD_CONNECTIONS, ShardedTransport

IN_FLIGHT = 20
BODY = b'{"ok":true}'
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


def test_connections_are_split_over_small_pools() -> None:
    assert ShardedTransport(64).pool_sizes == [SHARD_CONNECTIONS] * 8
    assert ShardedTransport(20).pool_sizes == [7, 7, 6]
    assert ShardedTransport(3).pool_sizes == [3]


async def test_a_round_in_flight_is_served_and_released() -> None:
    received = 0
    peers: set[int] = set()
    round_in = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        peers.add(writer.get_extra_info("peername")[1])
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                received += 1
                if received % IN_FLIGHT == 0:
                    round_in.set()
                await round_in.wait()
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = ShardedTransport(IN_FLIGHT)
    try:
        async with httpx.AsyncClient(transport=transport) as http:
            for _ in range(2):
                round_in.clear()
                calls = [http.get(f"http://127.0.0.1:{port}/") for _ in range(IN_FLIGHT)]
                answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=10)
                assert [a.json() for a in answers] == [{"ok": True}] * IN_FLIGHT
                assert transport.in_flight == [0, 0, 0]  # every pool got its connections back
    finally:
        server.close()
        await server.wait_closed()
    assert len(peers) == IN_FLIGHT  # the second round reused the first round's connections
