"""The one address policy for every URL the server calls on a party's behalf (S4, SSRF).

A callback URL (the enrolment's, the webhook endpoint's) makes the server send requests where an
FO says, so a hostile one could reach the CSO's own network or a cloud metadata service. Every
such URL is judged here, at registration and again right before each connection, with the same
rules:

- an explicit allow rule: IPv4 unicast outside the deny table, IPv6 global unicast (2000::/3)
  outside the deny table;
- explicit deny tables, from the IANA IPv4 and IPv6 special-purpose address registries (entries
  that are not globally reachable), plus multicast, the deprecated site-local prefix and the
  cloud metadata addresses;
- an IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-translated, IPv4-compatible,
  NAT64 `64:ff9b::/96`, 6to4, Teredo) is judged by the IPv4 address it carries, because that is
  where a dual-stack socket, a translator or a relay delivers the packets.

The tables are our own rather than `ipaddress.is_global` / `is_private`, whose answers have
changed between Python releases (and still differ from the registries). Host names are refused
when internal by convention (`localhost`, `.internal`, ...) or when they are IPv4 addresses in a
non-dotted-quad form (`2130706433`, `0x7f.1`, `127.1`), which resolvers accept. Every address a
name resolves to must be allowed: one refused answer refuses the name (so a name with a public
and a private address cannot reach the private one); the caller connects to an address this
module returned and never resolves again (DNS rebinding).

`allow_loopback` (the try-out settings `FCSBE_ALLOW_LOOPBACK_CALLBACKS`,
`FCSBE_WEBHOOK_ALLOW_LOOPBACK`) lets loopback addresses (127.0.0.0/8, `::1`, `::ffff:127.x`) and
the `localhost` names through, and nothing else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "IPV4_DENIED",
    "IPV6_DENIED",
    "METADATA_ADDRESSES",
    "AddressRule",
    "CallbackTarget",
    "CallbackUrlError",
    "IpAddress",
    "Resolver",
    "address_problem",
    "checked_addresses",
    "embedded_ipv4",
    "parse_callback_url",
    "system_resolver",
]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves (host, port) to address strings; tests inject one (DNS is a network peer)."""


@dataclass(frozen=True, slots=True)
class AddressRule:
    """One refused block and why (the reason is shown to the FO in the 422)."""

    network: IpNetwork
    reason: str


def _rules(*rows: tuple[str, str]) -> tuple[AddressRule, ...]:
    return tuple(AddressRule(ipaddress.ip_network(net), reason) for net, reason in rows)


IPV4_DENIED = _rules(
    ("0.0.0.0/8", "in 'this network' (RFC 791)"),
    ("10.0.0.0/8", "a private address (RFC 1918)"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address (RFC 6598)"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address (RFC 3927)"),
    ("172.16.0.0/12", "a private address (RFC 1918)"),
    ("192.0.0.0/24", "an IETF protocol assignment (RFC 6890)"),
    ("192.0.2.0/24", "a documentation address (RFC 5737)"),
    ("192.88.99.0/24", "the deprecated 6to4 relay anycast (RFC 7526)"),
    ("192.168.0.0/16", "a private address (RFC 1918)"),
    ("198.18.0.0/15", "a benchmarking address (RFC 2544)"),
    ("198.51.100.0/24", "a documentation address (RFC 5737)"),
    ("203.0.113.0/24", "a documentation address (RFC 5737)"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address (includes the broadcast address)"),
)
"""IPv4 blocks the server never connects to (IANA IPv4 special-purpose registry and more)."""

IPV6_DENIED = _rules(
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("::/96", "an IPv4-compatible address (deprecated, RFC 4291)"),
    ("64:ff9b:1::/48", "a local-use IPv4/IPv6 translation address (RFC 8215)"),
    ("100::/64", "a discard-only address (RFC 6666)"),
    ("100:0:0:1::/64", "a dummy address (RFC 9780)"),
    ("2001::/23", "an IETF protocol assignment (RFC 2928)"),
    ("2001:db8::/32", "a documentation address (RFC 3849)"),
    ("3fff::/20", "a documentation address (RFC 9637)"),
    ("5f00::/16", "a segment-routing address (RFC 9602)"),
    ("fc00::/7", "a unique local (private) address (RFC 4193)"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address (deprecated, RFC 3879)"),
    ("ff00::/8", "a multicast address"),
)
"""IPv6 blocks the server never connects to (IANA IPv6 special-purpose registry and more);
the forms that carry an IPv4 address are judged by it before this table is consulted."""

_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud metadata
        "192.0.0.192",  # Oracle Cloud metadata
        "fd00:ec2::254",  # AWS instance metadata over IPv6
    )
)
"""Cloud metadata endpoints, named even though a broader rule already refuses them."""

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "instance-data"})
_IPV4_NUMBER = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class CallbackUrlError(ValueError):
    """A callback URL the server must not call; `slug` names the problem kind."""

    def __init__(self, detail: str, slug: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.slug = slug


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with the name of its form."""
    value = int(address)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _MAPPED:
        return [("IPv4-mapped", low32)]
    if address in _TRANSLATED:
        return [("IPv4-translated", low32)]
    if address in _COMPATIBLE and value > 1:
        return [("IPv4-compatible", low32)]
    if address in _NAT64:
        return [("NAT64", low32)]
    if address in _SIX_TO_FOUR:
        return [("6to4", ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF))]
    if address in _TEREDO:
        server = ipaddress.IPv4Address((value >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~value & 0xFFFFFFFF)
        return [("Teredo server", server), ("Teredo client", client)]
    return []


def _ipv4_problem(address: ipaddress.IPv4Address, allow_loopback: bool) -> str | None:
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.packed[0] == 127:
        return None if allow_loopback else "a loopback address"
    return next((rule.reason for rule in IPV4_DENIED if address in rule.network), None)


def address_problem(address: IpAddress, *, allow_loopback: bool = False) -> str | None:
    """Why the server must not connect to `address`, or None when it may."""
    if isinstance(address, ipaddress.IPv4Address):
        return _ipv4_problem(address, allow_loopback)
    if address.scope_id:
        return "an address with a zone (scope) id"
    bare = ipaddress.IPv6Address(int(address))
    if bare in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if int(bare) == 1:
        return None if allow_loopback else "a loopback address"
    carried = embedded_ipv4(bare)
    for form, ipv4 in carried:
        # Only the IPv4-mapped form reaches the host's own loopback (a dual-stack socket).
        problem = _ipv4_problem(ipv4, allow_loopback and form == "IPv4-mapped")
        if problem is not None:
            return f"the {form} form of {ipv4}, {problem}"
    if carried:
        return None
    denied = next((rule.reason for rule in IPV6_DENIED if bare in rule.network), None)
    if denied is not None:
        return denied
    if bare not in _IPV6_GLOBAL_UNICAST:
        return "not a global unicast address (outside 2000::/3)"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (stdlib `getaddrinfo`, run in a worker thread)."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """A parsed callback URL: where to connect (`host`, `port`), and the host as an address
    when the URL names one (`literal`)."""

    scheme: str
    host: str
    port: int
    literal: IpAddress | None


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_loopback_name(host: str) -> bool:
    return host in _LOOPBACK_NAMES or host.endswith(".localhost")


def parse_callback_url(url: str, *, allow_loopback: bool, require_https: bool) -> CallbackTarget:
    """The URL's target, or `CallbackUrlError` for a URL no policy would call.

    With `require_https`, http is accepted only for a loopback host when loopback is allowed.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackUrlError(f"not a valid URL: {exc}", "callback-url-invalid") from exc
    if parts.scheme not in {"https", "http"}:
        raise CallbackUrlError("only https URLs are accepted", "callback-url-insecure")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise CallbackUrlError("the URL has no host", "callback-url-invalid")
    if parts.username is not None or parts.password is not None:
        raise CallbackUrlError("credentials in the URL are not allowed", "callback-url-invalid")
    if parts.fragment or parts.query:
        raise CallbackUrlError("a base URL has no query or fragment", "callback-url-invalid")
    if port == 0:
        raise CallbackUrlError("port 0 is not allowed", "callback-url-invalid")
    literal = _literal(host)
    loopback_host = _is_loopback_name(host) or (literal is not None and literal.is_loopback)
    if require_https and parts.scheme == "http" and not (allow_loopback and loopback_host):
        raise CallbackUrlError(
            "only https URLs are accepted (http is allowed for loopback addresses only, and "
            "only when loopback callbacks are allowed)",
            "callback-url-insecure",
        )
    return CallbackTarget(
        parts.scheme, host, port or (443 if parts.scheme == "https" else 80), literal
    )


def _name_problem(host: str, allow_loopback: bool) -> str | None:
    """Why a host name (not an address literal) is refused before it is resolved."""
    if _is_loopback_name(host):
        return None if allow_loopback else f"{host} is a loopback name"
    if host in _METADATA_HOSTS:
        return f"{host} is a metadata service"
    if host.endswith(_INTERNAL_SUFFIXES):
        return f"{host} is an internal name"
    if _IPV4_NUMBER.match(host.rsplit(".", 1)[-1]):
        return f"{host} is an IPv4 address in a non-standard form (write it as a.b.c.d)"
    return None


async def _resolve(host: str, port: int, resolver: Resolver, timeout_s: float) -> list[IpAddress]:
    unresolvable = CallbackUrlError(
        f"the host {host} does not resolve", "callback-url-unresolvable"
    )
    try:
        # Bounded: the caller may hold a database connection (the embedded server has one).
        answers = await asyncio.wait_for(resolver(host, port), timeout=timeout_s)
    except (OSError, UnicodeError, TimeoutError) as exc:
        raise unresolvable from exc
    try:
        addresses = [ipaddress.ip_address(answer) for answer in answers]
    except ValueError as exc:
        raise unresolvable from exc
    if not addresses:
        raise unresolvable
    return addresses


async def checked_addresses(
    target: CallbackTarget,
    *,
    allow_loopback: bool,
    resolver: Resolver = system_resolver,
    timeout_s: float = 3.0,
) -> list[IpAddress]:
    """The addresses the server may connect to for `target`, each one allowed by the policy;
    `CallbackUrlError` (slug `callback-url-forbidden-address` or `-unresolvable`) otherwise."""
    host = target.host
    if target.literal is not None:
        addresses: list[IpAddress] = [target.literal]
    else:
        problem = _name_problem(host, allow_loopback)
        if problem is not None:
            raise CallbackUrlError(problem, "callback-url-forbidden-address")
        if _is_loopback_name(host):
            return [ipaddress.IPv4Address("127.0.0.1")]
        addresses = await _resolve(host, target.port, resolver, timeout_s)
    for address in addresses:
        problem = address_problem(address, allow_loopback=allow_loopback)
        if problem is not None:
            shown = str(address) if target.literal is not None else f"{host} resolves to {address}"
            raise CallbackUrlError(
                f"{shown} is refused: {problem}", "callback-url-forbidden-address"
            )
    return addresses
