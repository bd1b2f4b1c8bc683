"""Callback URL checks (S4): https only, public addresses only, loopback only when allowed."""

from __future__ import annotations

import ipaddress

import pytest

from fcsbe.server.security.callback_urls import (
    CallbackUrlError,
    address_problem,
    resolve_public_addresses,
)


async def dns(host: str, _port: int) -> list[str]:
    table = {
        "fo.example.com": ["93.184.215.14"],
        "dual.example.com": ["93.184.215.14", "10.1.2.3"],
        "v6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "rebind.example.com": ["::ffff:127.0.0.1"],
        "empty.example.com": [],
    }
    if host not in table:
        raise OSError("NXDOMAIN")
    return table[host]


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("http://fo.example.com/hooks", "callback-url-insecure"),
        ("ftp://fo.example.com/hooks", "callback-url-insecure"),
        ("https://user:pw@fo.example.com/", "callback-url-invalid"),
        ("https://fo.example.com/?x=1", "callback-url-invalid"),
        ("https:///nohost", "callback-url-invalid"),
        ("https://fo.example.com:99999/", "callback-url-invalid"),
        ("https://127.0.0.1/", "callback-url-forbidden-address"),
        ("https://localhost:8443/", "callback-url-forbidden-address"),
        ("https://api.localhost/", "callback-url-forbidden-address"),
        ("https://[::1]/", "callback-url-forbidden-address"),
        ("https://10.0.0.1/", "callback-url-forbidden-address"),
        ("https://172.16.5.4/", "callback-url-forbidden-address"),
        ("https://192.168.0.10/", "callback-url-forbidden-address"),
        ("https://169.254.169.254/latest/meta-data", "callback-url-forbidden-address"),
        ("https://100.100.100.200/", "callback-url-forbidden-address"),
        ("https://100.64.1.1/", "callback-url-forbidden-address"),
        ("https://[fe80::1]/", "callback-url-forbidden-address"),
        ("https://[fd00:ec2::254]/", "callback-url-forbidden-address"),
        ("https://224.0.0.1/", "callback-url-forbidden-address"),
        ("https://0.0.0.0/", "callback-url-forbidden-address"),
        ("https://240.0.0.1/", "callback-url-forbidden-address"),
        ("https://metadata.google.internal/", "callback-url-forbidden-address"),
        ("https://dual.example.com/", "callback-url-forbidden-address"),
        ("https://rebind.example.com/", "callback-url-forbidden-address"),
        ("https://nowhere.example.com/", "callback-url-unresolvable"),
        ("https://empty.example.com/", "callback-url-unresolvable"),
    ],
)
async def test_refused(url: str, slug: str) -> None:
    with pytest.raises(CallbackUrlError) as caught:
        await resolve_public_addresses(url, resolver=dns)
    assert caught.value.slug == slug


async def test_public_urls_resolve() -> None:
    assert await resolve_public_addresses("https://fo.example.com/hooks", resolver=dns) == [
        ipaddress.ip_address("93.184.215.14")
    ]
    v6 = await resolve_public_addresses("https://v6.example.com:8443/x", resolver=dns)
    assert v6[0].version == 6
    assert await resolve_public_addresses("https://93.184.215.14/x", resolver=dns)


async def test_loopback_for_local_development_only() -> None:
    for url in ("http://127.0.0.1:9000/hooks", "http://localhost:9000", "https://[::1]:9000/"):
        assert await resolve_public_addresses(url, allow_loopback=True, resolver=dns)
    for url in ("http://10.0.0.1/", "https://169.254.169.254/", "http://fo.example.com/"):
        with pytest.raises(CallbackUrlError):
            await resolve_public_addresses(url, allow_loopback=True, resolver=dns)


def test_address_rules() -> None:
    assert address_problem(ipaddress.ip_address("8.8.8.8")) is None
    assert "private" in (address_problem(ipaddress.ip_address("::ffff:10.0.0.1")) or "")
    assert address_problem(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert "metadata" in (address_problem(ipaddress.ip_address("169.254.169.254")) or "")


async def test_a_slow_resolver_is_given_up() -> None:
    import asyncio

    async def hanging(_host: str, _port: int) -> list[str]:
        await asyncio.Event().wait()
        return []

    with pytest.raises(CallbackUrlError) as caught:
        await resolve_public_addresses(
            "https://slow.example.com/", resolver=hanging, timeout_s=0.01
        )
    assert caught.value.slug == "callback-url-unresolvable"
