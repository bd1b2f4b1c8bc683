"""Callback URLs the server will call (S4): checked when registered and again at connect time.

A URL given by an FO makes the server send requests on the FO's behalf, so a hostile one could
reach the CSO's internal network or a cloud metadata service (SSRF). Registration refuses
malformed URLs, embedded credentials, non-HTTPS (unless allowed) and IP literals outside the
public internet. Names are not resolved at registration, because DNS answers change: every
delivery resolves the name itself, refuses it when any address is not public, and connects to
the address it checked (never re-resolving), which also defeats DNS rebinding.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

__all__ = [
    "BlockedAddressError",
    "ResolvedUrl",
    "address_allowed",
    "callback_url_problem",
    "resolve_for_connect",
]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_INTERNAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")


class BlockedAddressError(Exception):
    """The URL resolves to an address the server must not connect to."""


def address_allowed(address: IpAddress, *, allow_loopback: bool) -> bool:
    """True for globally routable unicast addresses (and loopback when allowed)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def _host_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def callback_url_problem(url: str, *, allow_loopback: bool, require_https: bool) -> str | None:
    """Why `url` cannot be a callback URL, or None when it can (registration-time check)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in {"https", "http"}:
        return "the scheme must be https"
    if require_https and parts.scheme != "https":
        return "the scheme must be https"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are not allowed"
    if parts.query or parts.fragment:
        return "a callback base URL has no query or fragment"
    host = (parts.hostname or "").lower()
    if not host:
        return "the URL has no host"
    if port == 0:
        return "port 0 is not allowed"
    literal = _host_literal(host)
    if literal is not None:
        if not address_allowed(literal, allow_loopback=allow_loopback):
            return f"the address {literal} is not a public internet address"
        return None
    if host == "localhost" or host.endswith(_INTERNAL_NAMES):
        if allow_loopback and host == "localhost":
            return None
        return f"the host {host} is an internal name"
    return None


@dataclass(frozen=True, slots=True)
class ResolvedUrl:
    """A URL pinned to a checked address: connect to `connect_url`, present `host` (Host, SNI)."""

    connect_url: str
    host_header: str
    sni_hostname: str | None


def _pinned(parts: SplitResult, address: IpAddress) -> str:
    netloc = f"[{address}]" if address.version == 6 else str(address)
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


async def resolve_for_connect(url: str, *, allow_loopback: bool) -> ResolvedUrl:
    """Resolve the host of `url`, refuse it unless every address is allowed, pin the first."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = _host_literal(host)
    if literal is not None:
        addresses: list[IpAddress] = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise BlockedAddressError(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not addresses:
            raise BlockedAddressError(f"{host} has no address")
    for address in addresses:
        if not address_allowed(address, allow_loopback=allow_loopback):
            raise BlockedAddressError(f"{host} resolves to {address}, which is not public")
    host_header = parts.netloc.rpartition("@")[2]
    return ResolvedUrl(
        connect_url=_pinned(parts, addresses[0]),
        host_header=host_header,
        sni_hostname=host if parts.scheme == "https" and literal is None else None,
    )
