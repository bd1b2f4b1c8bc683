"""Webhook URLs the server calls (S4): checked when registered and again at connect time.

A URL given by an FO makes the server send requests on the FO's behalf, so a hostile one could
reach the CSO's internal network or a cloud metadata service (SSRF). Both checks apply the one
address policy (`security.address_policy`): registration refuses malformed URLs, embedded
credentials, non-HTTPS (unless allowed), refused address literals and names that resolve to a
refused address. DNS answers change, so every delivery resolves the name again, refuses it when
any address is refused, and connects to the address it checked (never re-resolving), which also
defeats DNS rebinding.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from fcsbe.server.security.address_policy import (
    CallbackUrlError,
    IpAddress,
    Resolver,
    address_problem,
    checked_addresses,
    parse_callback_url,
    system_resolver,
)

__all__ = [
    "BlockedAddressError",
    "ResolvedUrl",
    "address_allowed",
    "callback_url_problem",
    "resolve_for_connect",
]


class BlockedAddressError(Exception):
    """The URL resolves to an address the server must not connect to."""


def address_allowed(address: IpAddress, *, allow_loopback: bool) -> bool:
    """True when the address policy lets the server connect to `address`."""
    return address_problem(address, allow_loopback=allow_loopback) is None


async def callback_url_problem(
    url: str,
    *,
    allow_loopback: bool,
    require_https: bool,
    resolver: Resolver = system_resolver,
) -> str | None:
    """Why `url` cannot be a webhook URL, or None when it can (registration-time check; a
    name is resolved and each of its addresses judged, as at connect time)."""
    try:
        target = parse_callback_url(url, allow_loopback=allow_loopback, require_https=False)
        if require_https and target.scheme != "https":
            return "the scheme must be https"
        await checked_addresses(target, allow_loopback=allow_loopback, resolver=resolver)
    except CallbackUrlError as exc:
        return exc.detail
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


async def resolve_for_connect(
    url: str, *, allow_loopback: bool, resolver: Resolver = system_resolver
) -> ResolvedUrl:
    """Resolve the host of `url`, refuse it unless every address is allowed, pin the first."""
    try:
        target = parse_callback_url(url, allow_loopback=allow_loopback, require_https=False)
        addresses = await checked_addresses(
            target, allow_loopback=allow_loopback, resolver=resolver
        )
    except CallbackUrlError as exc:
        raise BlockedAddressError(exc.detail) from exc
    parts = urlsplit(url)
    host_header = parts.netloc.rpartition("@")[2]
    return ResolvedUrl(
        connect_url=_pinned(parts, addresses[0]),
        host_header=host_header,
        sni_hostname=target.host if target.scheme == "https" and target.literal is None else None,
    )
