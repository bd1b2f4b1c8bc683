"""Where the server may push: checks of FO callback URLs (S4, server-side request forgery).

A callback URL is chosen by the FO, and the server will send requests to it; without checks an
FO could make the server call its own admin ports, a cloud metadata service or the CSO's private
network. So a callback must be `https` and every address its host resolves to must be allowed
by the one address policy (`security.address_policy`, which also judges webhook endpoints and
every connection). The setting `allow_loopback_callbacks` lets `http(s)://127.0.0.1`, `[::1]`
and `localhost` through for local development, and nothing else.

Enrolment checks the URL at registration; whatever pushes to it checks again right before
connecting (DNS answers change: rebinding) and connects to an address the check returned.
"""

from __future__ import annotations

from fcsbe.server.security.address_policy import (
    METADATA_ADDRESSES,
    CallbackUrlError,
    IpAddress,
    Resolver,
    address_problem,
    checked_addresses,
    parse_callback_url,
    system_resolver,
)

__all__ = [
    "METADATA_ADDRESSES",
    "CallbackUrlError",
    "IpAddress",
    "Resolver",
    "address_problem",
    "resolve_public_addresses",
    "system_resolver",
]


async def resolve_public_addresses(
    url: str,
    *,
    allow_loopback: bool = False,
    resolver: Resolver = system_resolver,
    timeout_s: float = 3.0,
) -> list[IpAddress]:
    """The addresses the server may connect to for `url`; raises `CallbackUrlError` if none.

    Every address a name resolves to must be allowed (one refused answer refuses the URL), so
    that a name with a public and a private address cannot be used to reach the private one.
    A name that does not resolve within `timeout_s` is refused as unresolvable.
    """
    target = parse_callback_url(url, allow_loopback=allow_loopback, require_https=True)
    return await checked_addresses(
        target, allow_loopback=allow_loopback, resolver=resolver, timeout_s=timeout_s
    )
