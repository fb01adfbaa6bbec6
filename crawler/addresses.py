"""Which addresses newswatch may connect to when `network.allow_private` is false.

Feeds and pages are named by strangers: a feed (or a redirect, or a DNS answer) that
points at 127.0.0.1, the LAN or a cloud metadata service (169.254.169.254) would let
them read what only this server can reach (server-side request forgery).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 6598 shared address space: neither private nor global, so it is named here.
_CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")

# First match wins: the most specific description of the address.
_KINDS: tuple[tuple[Callable[[Address], bool], str], ...] = (
    (lambda ip: ip.is_unspecified, "an unspecified address"),
    (lambda ip: ip.is_loopback, "a loopback address"),
    (lambda ip: ip.is_link_local, "a link-local address"),
    (lambda ip: ip in _CARRIER_GRADE_NAT, "a carrier-grade NAT address"),
    (lambda ip: ip.is_multicast, "a multicast address"),
    (lambda ip: ip.is_reserved, "a reserved address"),
    (lambda ip: ip.is_private, "a private address"),
    (lambda ip: not ip.is_global, "not a public address"),
)


def refused_kind(address: str) -> str | None:
    """Return what kind of non-public address `address` is ("a loopback address"), or
    None when it is a public one. Anything that is not an IP address is refused."""
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 scope
    except ValueError:
        return "not an IP address"
    # ::ffff:127.0.0.1 reaches 127.0.0.1.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, kind in _KINDS:
        if test(ip):
            return kind
    return None


def refusal(host: str, address: str) -> str | None:
    """Return why `host`, resolved to `address`, may not be connected to; None if it may."""
    kind = refused_kind(address)
    if kind is None:
        return None
    if host.strip("[]").lower() == address.lower():
        return f"{address} is {kind}"
    return f"{host} resolves to {address}, {kind}"
