"""The one address policy (S4, SSRF): every form of an internal address is refused, at
registration (enrolment callback and webhook endpoint, 422 naming the field) and at connect
time (names whose DNS answers are those addresses), and public addresses in the same forms are
accepted. The table is the reference the policy in `docs/security.md` describes.
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from fcsbe.model import DeliveryOutcome, generate_signing_key, public_jwk
from fcsbe.server.notifications.sender import WebhookSender
from fcsbe.server.security.address_policy import (
    CallbackUrlError,
    address_problem,
    embedded_ipv4,
)
from fcsbe.server.security.callback_urls import resolve_public_addresses
from fcsbe.server.security.urls import (
    BlockedAddressError,
    callback_url_problem,
    resolve_for_connect,
)
from tests.conftest import fake_dns, name_for
from tests.support.flows import enrol_fo, init_server

REFUSED: list[tuple[str, str]] = [
    # NAT64, well-known prefix (RFC 6052): judged by the IPv4 address in the last 32 bits.
    ("64:ff9b::169.254.169.254", "metadata"),
    ("64:ff9b::a9fe:a9fe", "metadata"),
    ("64:ff9b::10.0.0.1", "private"),
    ("64:ff9b::127.0.0.1", "loopback"),
    # NAT64, local-use prefix (RFC 8215): a translator inside the operator's network.
    ("64:ff9b:1::a9fe:a9fe", "local-use"),
    ("64:ff9b:1::10.0.0.1", "local-use"),
    ("64:ff9b:1:a9fe:a9:fe00::", "local-use"),
    # IPv4-compatible (::a.b.c.d), IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:...).
    ("::169.254.169.254", "metadata"),
    ("::10.0.0.1", "private"),
    ("::127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "metadata"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:0:169.254.169.254", "metadata"),
    ("::ffff:0:10.0.0.1", "private"),
    ("::ffff:0:127.0.0.1", "loopback"),
    # 6to4 (2002:WWXX:YYZZ::/48 carries WW.XX.YY.ZZ).
    ("2002:a9fe:a9fe::1", "metadata"),
    ("2002:a00:1::1", "private"),
    ("2002:7f00:1::", "loopback"),
    # Teredo (2001:0:SERVER:flags:port:~CLIENT): both IPv4 addresses are judged.
    ("2001:0:4136:e378::5601:5601", "metadata"),  # client 169.254.169.254
    ("2001:0:4136:e378::f5ff:fffe", "private"),  # client 10.0.0.1
    ("2001:0:a00:1::f7f7:f7f7", "private"),  # server 10.0.0.1
    # Site-local (deprecated), and the rest of the IPv6 deny table.
    ("fec0::1", "site-local"),
    ("fec0::a9fe:a9fe", "site-local"),
    ("fd00:ec2::254", "metadata"),
    ("fd12:3456::1", "unique local"),
    ("fe80::1", "link-local"),
    ("ff02::1", "multicast"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("100::1", "discard"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001:2::1", "IETF"),
    ("5f00::1", "segment-routing"),
    ("4000::1", "global unicast"),
    # IPv4.
    ("169.254.169.254", "metadata"),
    ("100.100.100.200", "metadata"),
    ("192.0.0.192", "metadata"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("127.0.0.1", "loopback"),
    ("100.64.0.1", "shared"),
    ("0.0.0.0", "this network"),
    ("192.0.0.9", "IETF"),
    ("192.0.2.1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("192.88.99.1", "6to4 relay"),
    ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
]

ACCEPTED = [
    "93.184.215.14",
    "8.8.8.8",
    "2606:4700::1111",
    "64:ff9b::8.8.8.8",  # NAT64 of a public address
    "::8.8.8.8",  # IPv4-compatible form of a public address
    "::ffff:8.8.8.8",  # IPv4-mapped
    "::ffff:0:8.8.8.8",  # IPv4-translated
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "2001:0:4136:e378::f7f7:f7f7",  # Teredo, server 65.54.227.120, client 8.8.8.8
]


def _url(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"https://{host}/fcsbe"


def _by_name(address: str) -> str:
    return f"https://{name_for(address)}/fcsbe"


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_every_internal_form_is_refused_with_its_reason(address: str, why: str) -> None:
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None, address
    assert why.lower() in problem.lower(), (address, problem)


@pytest.mark.parametrize("address", ACCEPTED)
def test_public_addresses_in_every_form_are_accepted(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_the_carried_ipv4_address_is_found_in_every_form() -> None:
    def carried(address: str) -> list[str]:
        return [str(v4) for _, v4 in embedded_ipv4(ipaddress.IPv6Address(address))]

    assert carried("64:ff9b::a9fe:a9fe") == ["169.254.169.254"]
    assert carried("::ffff:0:a00:1") == ["10.0.0.1"]
    assert carried("::a00:1") == ["10.0.0.1"]
    assert carried("2002:a9fe:a9fe:1::") == ["169.254.169.254"]
    assert carried("2001:0:4136:e378:8000:63bf:3fff:fdd2") == ["65.54.227.120", "192.0.2.45"]
    assert carried("2606:4700::1111") == []


def test_loopback_try_out_allows_loopback_and_nothing_else() -> None:
    for address in ("127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"):
        assert address_problem(ipaddress.ip_address(address), allow_loopback=True) is None
    for address in ("64:ff9b::127.0.0.1", "2002:7f00:1::", "::127.0.0.1", "::ffff:0:127.0.0.1"):
        assert address_problem(ipaddress.ip_address(address), allow_loopback=True), address
    for address, why in REFUSED:
        if why != "loopback":
            assert address_problem(ipaddress.ip_address(address), allow_loopback=True), address


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f.1", "127.1", "0177.0.0.1", "10.1", "1.2.3.0x4"],
)
async def test_ipv4_addresses_in_other_notations_are_refused(host: str) -> None:
    with pytest.raises(CallbackUrlError) as caught:
        await resolve_public_addresses(f"https://{host}/", resolver=fake_dns)
    assert caught.value.slug == "callback-url-forbidden-address"
    problem = await callback_url_problem(
        f"https://{host}/", allow_loopback=True, require_https=True, resolver=fake_dns
    )
    assert problem is not None


async def test_a_zone_id_is_refused() -> None:
    with pytest.raises(CallbackUrlError, match="zone"):
        await resolve_public_addresses("https://[2606:4700::1111%25eth0]/", resolver=fake_dns)


async def test_loopback_try_out_settings_keep_working() -> None:
    for url in ("http://127.0.0.1:9000/hooks", "http://localhost:9000", "https://[::1]:9000/"):
        assert await resolve_public_addresses(url, allow_loopback=True, resolver=fake_dns)
        problem = await callback_url_problem(
            url, allow_loopback=True, require_https=True, resolver=fake_dns
        )
        assert problem is None or "https" in problem  # webhooks: http needs require_https off
        assert (
            await callback_url_problem(
                url, allow_loopback=True, require_https=False, resolver=fake_dns
            )
            is None
        )
    pinned = await resolve_for_connect(
        "http://localhost:9000/x", allow_loopback=True, resolver=fake_dns
    )
    assert pinned.connect_url == "http://127.0.0.1:9000/x"
    for url in ("https://[64:ff9b::7f00:1]/", _by_name("2002:7f00:1::"), "https://10.0.0.1/"):
        with pytest.raises(CallbackUrlError):
            await resolve_public_addresses(url, allow_loopback=True, resolver=fake_dns)
        with pytest.raises(BlockedAddressError):
            await resolve_for_connect(url, allow_loopback=True, resolver=fake_dns)


async def _registration_verdicts(
    http: httpx.AsyncClient, token: str, url: str
) -> list[tuple[str, int, str | None]]:
    """(route, status, pointer of the first error) for both ways of registering `url`."""
    headers = {"authorization": f"Bearer {token}"}
    found = []
    for method, path in (("PATCH", "/v1/enrolments/self"), ("PUT", "/v1/webhook-endpoint")):
        response = await http.request(
            method,
            path,
            json={"callback_base_url": url},
            headers={**headers, "idempotency-key": str(uuid.uuid4())},
        )
        pointer = None
        if response.status_code == 422:
            assert response.headers["content-type"] == "application/problem+json"
            pointer = response.json()["errors"][0]["pointer"]
        found.append((path, response.status_code, pointer))
    return found


async def test_registration_refuses_every_internal_form_and_names_the_field(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    operator = await init_server(app)
    fo = await enrol_fo(app, operator, "NL-FLX")
    wrong = []
    for address, _ in REFUSED:
        for url in (_url(address), _by_name(address)):
            for path, status, pointer in await _registration_verdicts(http, fo.token, url):
                if (status, pointer) != (422, "/body/callback_base_url"):
                    wrong.append(f"{path} {url}: {status} {pointer}")
    for address in ACCEPTED:
        for url in (_url(address), _by_name(address)):
            for path, status, _pointer in await _registration_verdicts(http, fo.token, url):
                if status != 200:
                    wrong.append(f"{path} {url}: {status}, expected 200")
    await fo.client.aclose()
    assert wrong == []


async def test_enrolment_refuses_a_nat64_metadata_callback(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    operator = await init_server(app)
    issued = await http.post(
        "/admin/v1/enrolment-tokens",
        json={"fo_name": "Flexa"},
        headers={"authorization": f"Bearer {operator}", "idempotency-key": "t-1"},
    )
    body = {
        "party": {"party_id": "NL-FLX", "roles": ["FO"], "legal_name": "Flexa", "country": "NL"},
        "callback_base_url": _by_name("64:ff9b::a9fe:a9fe"),
        "signing_key": public_jwk(generate_signing_key("k")),
    }
    response = await http.post(
        "/v1/enrolments",
        json=body,
        headers={"authorization": f"Bearer {issued.json()['token']}", "idempotency-key": "e-1"},
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("/callback-url-forbidden-address")
    assert response.json()["errors"][0]["pointer"] == "/body/callback_base_url"
    assert "169.254.169.254" in response.json()["errors"][0]["detail"]


@pytest.mark.parametrize(("address", "why"), REFUSED)
async def test_connect_time_refuses_names_answering_internal_forms(address: str, why: str) -> None:
    with pytest.raises(BlockedAddressError) as caught:
        await resolve_for_connect(_by_name(address), allow_loopback=False, resolver=fake_dns)
    assert why.lower() in str(caught.value).lower()


@pytest.mark.parametrize("address", ACCEPTED)
async def test_connect_time_pins_the_accepted_address(address: str) -> None:
    pinned = await resolve_for_connect(
        _by_name(address) + "/notifications", allow_loopback=False, resolver=fake_dns
    )
    assert ipaddress.ip_address(address) == ipaddress.ip_address(
        pinned.connect_url.split("/")[2].strip("[]")
    )
    assert pinned.host_header == name_for(address)
    assert pinned.sni_hostname == name_for(address)


async def test_a_delivery_to_a_rebound_name_is_blocked_before_connecting() -> None:
    """The sender checks the DNS answers itself: a name that now answers the NAT64 form of the
    metadata address is blocked, no request is made (the HTTP client would fail the test)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"connected to {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        sender = WebhookSender(
            http, timeout_s=5, concurrency=1, allow_loopback=False, resolver=fake_dns
        )
        for address, _ in REFUSED:
            result = await sender.send(
                _by_name(address) + "/notifications",
                "msg_1",
                "{}",
                ["whsec_" + "A" * 44],
                datetime.now(UTC),
            )
            assert result.outcome is DeliveryOutcome.BLOCKED, address
