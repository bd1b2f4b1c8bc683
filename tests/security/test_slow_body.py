"""A client that trickles its request body must not stall anybody else (issue 17, item 1).

`fcsbe serve` runs in a child process on a free loopback port, on SQLite (one pooled connection
shared by every request and background loop) and on PostgreSQL (a pool of 3). Raw sockets send
the head of a request that takes no body but whose route reads one to fingerprint its
Idempotency-Key, then one byte of the two announced, and hold; as many as the pool has
connections. Another tenant's requests must still answer: before the fix each held request kept
a connection (its authentication had opened a transaction), so the others waited for the pool
and answered 503. The pool timeout is made short so that this shows as a status, not as a time,
and every wait here is bounded by a socket or client timeout.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from typer.testing import CliRunner

from fcsbe.cli import app as cli
from fcsbe.model import generate_signing_key, public_jwk
from tests.support.databases import (
    create_postgres_database,
    drop_postgres_database,
    postgres_reachable,
)
from tests.support.flows import fo_party
from tests.support.served import Served, serve

pytestmark = pytest.mark.slow

BOUND_S = 30.0
"""Upper bound of any single wait in this file (a hang fails instead of blocking the suite)."""


POSTGRES_POOL = 3
"""Connections of the PostgreSQL server under test: as many trickling clients exhaust it."""


@dataclass(frozen=True)
class Setup:
    """The running server and how many held requests took its whole pool before the fix."""

    server: Served
    pool: int


SETTINGS = {
    # The SQLite pool (one connection) waits 6 x the pool timeout before answering 503.
    "FCSBE_DB_POOL_TIMEOUT_S": "0.5",
    "FCSBE_REQUEST_BODY_TIMEOUT_S": "3",
    # Every request here sends its head in one write; a late head is the slowloris test's.
    "FCSBE_REQUEST_HEADER_TIMEOUT_S": "1",
}
"""Settings of every server here. One server per backend serves the whole module (starting one
costs more than a test's checks); each test enrols tenants of its own and releases the
connections it holds before it ends."""


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with serve(tmp_path_factory.mktemp("slow-sqlite"), **SETTINGS) as server:
        yield Setup(server, 1)


@pytest.fixture(scope="module")
def postgresql_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    problem = postgres_reachable()
    if problem is not None:
        pytest.skip(f"PostgreSQL unreachable ({problem})")
    database, url = create_postgres_database("fcsbe_slow")
    try:
        with serve(
            tmp_path_factory.mktemp("slow-postgresql"),
            **{
                **SETTINGS,
                "FCSBE_DATABASE_URL": url,
                "FCSBE_AUTO_MIGRATE": "true",
                "FCSBE_AUTO_INIT_PARTY": "true",
                "FCSBE_DB_POOL_SIZE": str(POSTGRES_POOL),
                "FCSBE_DB_MAX_OVERFLOW": "0",
                "FCSBE_DB_POOL_TIMEOUT_S": "2",
            },
        ) as server:
            yield Setup(server, POSTGRES_POOL)
    finally:
        drop_postgres_database(database)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest) -> Setup:
    setup: Setup = request.getfixturevalue(f"{request.param}_server")
    return setup


def _operator_token(server: Served) -> str:
    made = CliRunner().invoke(
        cli, ["admin", "operator-token", "create", "--ttl", "1h"], env=server.env
    )
    assert made.exit_code == 0, made.output
    return made.output.split()[-1]


def _enrol(http: httpx.Client, operator: str, party_id: str) -> str:
    """Enrol one aggregator over HTTP; its access token."""
    issued = http.post(
        "/admin/v1/enrolment-tokens",
        json={"fo_name": f"{party_id} B.V."},
        headers={"authorization": f"Bearer {operator}", "idempotency-key": f"et-{party_id}"},
    )
    assert issued.status_code == 201, issued.text
    enrolled = http.post(
        "/v1/enrolments",
        json={
            "party": fo_party(party_id).model_dump(mode="json", exclude_none=True),
            "callback_base_url": f"http://127.0.0.1:9/{party_id.lower()}",
            "signing_key": public_jwk(generate_signing_key()),
        },
        headers={
            "authorization": f"Bearer {issued.json()['token']}",
            "idempotency-key": f"enrol-{party_id}",
        },
    )
    assert enrolled.status_code == 201, enrolled.text
    return str(enrolled.json()["access_token"])


def _trickle(url: str, token: str, path: str, key: str) -> socket.socket:
    """Open a connection, send a request head announcing 2 body bytes and send one."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=BOUND_S)
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Idempotency-Key: {key}\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{"
    )
    sock.sendall(head.encode())
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, object]]:
    """Read one HTTP answer (status, JSON body) from `sock`, within the socket timeout."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection without an answer"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_a_trickled_body_stalls_nobody_and_times_out(served: Setup) -> None:
    operator = _operator_token(served.server)
    with httpx.Client(base_url=served.server.url, timeout=BOUND_S) as http:
        slow_fo = _enrol(http, operator, "NL-SLOW")
        other_fo = _enrol(http, operator, "NL-OTHER")
        held = [
            _trickle(served.server.url, slow_fo, "/v1/enrolments/self/credentials", f"slow-{n}")
            for n in range(served.pool)
        ]
        try:
            time.sleep(0.5)  # the head is with the server; before the fix it held the pool now
            for attempt in range(3):
                answer = http.get(
                    "/v1/enrolments/self", headers={"authorization": f"Bearer {other_fo}"}
                )
                assert answer.status_code == 200, answer.text
                beat = http.post(
                    "/v1/heartbeat",
                    json={"sent_at": datetime.now(UTC).isoformat()},
                    headers={
                        "authorization": f"Bearer {other_fo}",
                        "idempotency-key": f"hb-{attempt}",
                    },
                )
                assert beat.status_code == 200, beat.text
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            answers = [_answer(sock) for sock in held]
        finally:
            for sock in held:
                sock.close()
        for status, problem in answers:
            assert status == 408
            assert problem["type"] == "https://fcsbe.org/problems/request-timeout"
        # The trickled request did nothing: the slow tenant's token still works, unrotated.
        still = http.get("/v1/enrolments/self", headers={"authorization": f"Bearer {slow_fo}"})
        assert still.status_code == 200, still.text


def test_the_other_bodiless_route_times_out_too(served: Setup) -> None:
    operator = _operator_token(served.server)
    with httpx.Client(base_url=served.server.url, timeout=BOUND_S) as http:
        token = _enrol(http, operator, "NL-SECRET")
        host, port = served.server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=BOUND_S) as sock:
            sock.sendall(
                (
                    f"POST /v1/webhook-endpoint/secret HTTP/1.1\r\nHost: {host}\r\n"
                    f"Authorization: Bearer {token}\r\nIdempotency-Key: s-1\r\n"
                    "Content-Length: 10\r\n\r\n{"
                ).encode()
            )
            assert http.get("/readyz").status_code == 200
            status, problem = _answer(sock)
        assert status == 408
        assert problem["status"] == 408


def test_a_request_head_that_never_ends_is_disconnected(sqlite_server: Setup) -> None:
    """Sockets that send nothing, half a request head or half a WebSocket upgrade are closed
    after `request_header_timeout_s`, while a complete request on another connection answers
    (before, uvicorn held such sockets forever: a slowloris exhausts the replica)."""
    server = sqlite_server.server
    host, port = server.url.removeprefix("http://").split(":")
    heads = [
        b"",
        b"GET /readyz HTTP/1.1\r\nHost: x\r\n",
        b"GET /ocpp/CS-1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgr",
    ]
    with ExitStack() as stack:
        held = []
        for head in heads:
            sock = stack.enter_context(socket.create_connection((host, int(port)), timeout=BOUND_S))
            sock.sendall(head)
            held.append(sock)
        assert httpx.get(f"{server.url}/readyz", timeout=BOUND_S).status_code == 200
        for sock in held:
            assert sock.recv(65536) == b"", "a late request head must get no answer"
    # A kept-alive connection's next request gets its own deadline.
    with socket.create_connection((host, int(port)), timeout=BOUND_S) as sock:
        sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answer(sock)[0] == 200  # the whole answer (head and body may come apart)
        sock.sendall(b"GET /readyz HTTP/1.1\r\n")
        assert sock.recv(65536) == b""
