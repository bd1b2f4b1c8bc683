"""Where the server may push webhooks: checks of FO callback URLs (S4, server-side request forgery).

A callback URL is chosen by the FO, and the server will send requests to it; without checks an
FO could make the server call its own admin ports, a cloud metadata service or the CSO's private
network. So a callback must be `https` and every address its host resolves to must be public:
private, loopback, link-local, multicast, unspecified, reserved, shared (CGNAT) and cloud
metadata addresses are refused. The setting `allow_loopback_callbacks` lets `http(s)://127.0.0.1`,
`[::1]` and `localhost` through for local development, and nothing else.

Enrolment checks the URL at registration; the webhook worker calls `resolve_public_addresses`
again right before connecting (DNS answers change: rebinding) and connects to an address it
returned. Host names are resolved with the standard library in a worker thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

__all__ = [
    "METADATA_ADDRESSES",
    "CallbackUrlError",
    "IpAddress",
    "Resolver",
    "address_problem",
    "resolve_public_addresses",
    "system_resolver",
]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves (host, port) to address strings; tests inject one (DNS is a network peer)."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud metadata
        "fd00:ec2::254",  # AWS instance metadata over IPv6
    )
)
"""Cloud metadata endpoints, named even where a broader rule already refuses them."""

_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "instance-data"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class CallbackUrlError(ValueError):
    """A callback URL the server must not call; `slug` names the problem kind."""

    def __init__(self, detail: str, slug: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.slug = slug


def address_problem(address: IpAddress, *, allow_loopback: bool = False) -> str | None:
    """Why the server must not connect to `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_problem(address.ipv4_mapped, allow_loopback=allow_loopback)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = (
        (address.is_unspecified, "the unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((why for refused, why in checks if refused), None)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (stdlib `getaddrinfo`, run in a worker thread)."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _parse(url: str, allow_loopback: bool) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackUrlError(f"not a valid URL: {exc}", "callback-url-invalid") from exc
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise CallbackUrlError("the URL has no host", "callback-url-invalid")
    if parts.username is not None or parts.password is not None:
        raise CallbackUrlError("credentials in the URL are not allowed", "callback-url-invalid")
    if parts.fragment or parts.query:
        raise CallbackUrlError("a base URL has no query or fragment", "callback-url-invalid")
    if parts.scheme not in {"https", "http"}:
        raise CallbackUrlError("only https URLs are accepted", "callback-url-insecure")
    if parts.scheme == "http" and not (allow_loopback and _is_loopback_host(host)):
        raise CallbackUrlError(
            "only https URLs are accepted (http is allowed for loopback addresses only, and "
            "only when FCSBE_ALLOW_LOOPBACK_CALLBACKS is on)",
            "callback-url-insecure",
        )
    return host, port or (443 if parts.scheme == "https" else 80)


def _is_loopback_host(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _resolve(host: str, port: int, resolver: Resolver, timeout_s: float) -> list[IpAddress]:
    unresolvable = CallbackUrlError(
        f"the host {host} does not resolve", "callback-url-unresolvable"
    )
    try:
        # Bounded: the caller may hold a database connection (the embedded server has one).
        answers = await asyncio.wait_for(resolver(host, port), timeout=timeout_s)
    except (OSError, UnicodeError, TimeoutError) as exc:
        raise unresolvable from exc
    addresses = [ipaddress.ip_address(answer.split("%", 1)[0]) for answer in answers]
    if not addresses:
        raise unresolvable
    return addresses


async def resolve_public_addresses(
    url: str,
    *,
    allow_loopback: bool = False,
    resolver: Resolver = system_resolver,
    timeout_s: float = 3.0,
) -> list[IpAddress]:
    """The addresses the server may connect to for `url`; raises `CallbackUrlError` if none.

    Every address a name resolves to must be allowed (one private answer refuses the URL), so
    that a name with a public and a private address cannot be used to reach the private one.
    A name that does not resolve within `timeout_s` is refused as unresolvable.
    """
    host, port = _parse(url, allow_loopback)
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        if not allow_loopback:
            raise CallbackUrlError(f"{host} is a loopback name", "callback-url-forbidden-address")
        return [ipaddress.ip_address("127.0.0.1")]
    if host in _METADATA_HOSTS:
        raise CallbackUrlError(f"{host} is a metadata service", "callback-url-forbidden-address")
    try:
        addresses: list[IpAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolve(host, port, resolver, timeout_s)
    for address in addresses:
        problem = address_problem(address, allow_loopback=allow_loopback)
        if problem is not None:
            raise CallbackUrlError(
                f"{host} resolves to {address}, {problem}", "callback-url-forbidden-address"
            )
    return addresses
