"""S4: callback URLs are checked at registration and the address again at connect time."""

from __future__ import annotations

import ipaddress

import pytest

from fcsbe.server.security.urls import (
    BlockedAddressError,
    address_allowed,
    callback_url_problem,
    resolve_for_connect,
)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_only_public_unicast_addresses_are_allowed(address: str, allowed: bool) -> None:
    assert address_allowed(ipaddress.ip_address(address), allow_loopback=False) is allowed


async def test_loopback_only_when_the_setting_allows_it() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    assert address_allowed(loopback, allow_loopback=True)
    assert not address_allowed(ipaddress.ip_address("10.0.0.1"), allow_loopback=True)
    assert (
        await callback_url_problem(
            "http://127.0.0.1:9000", allow_loopback=True, require_https=False
        )
        is None
    )
    assert (
        await callback_url_problem(
            "http://localhost:9000", allow_loopback=True, require_https=False
        )
        is None
    )
    assert await callback_url_problem(
        "https://fo.example.com?x=1", allow_loopback=True, require_https=True
    )


async def test_connect_time_pins_the_checked_address() -> None:
    resolved = await resolve_for_connect("http://localhost:8123/hook", allow_loopback=True)
    assert resolved.connect_url == "http://127.0.0.1:8123/hook"
    assert resolved.host_header == "localhost:8123"
    assert resolved.sni_hostname is None
    with pytest.raises(BlockedAddressError, match="loopback"):
        await resolve_for_connect("http://localhost:8123/hook", allow_loopback=False)
    with pytest.raises(BlockedAddressError, match="metadata"):
        await resolve_for_connect("https://169.254.169.254/", allow_loopback=True)


async def test_unresolvable_names_are_refused() -> None:
    with pytest.raises(BlockedAddressError, match="does not resolve"):
        await resolve_for_connect("https://does-not-exist.invalid/", allow_loopback=False)
