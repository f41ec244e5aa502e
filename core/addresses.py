"""Which network addresses a worker may reach on a caller's behalf (fetch_url, webhooks):
public ones only, and never a cloud metadata service."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import TypeAlias

IPAddress: TypeAlias = IPv4Address | IPv6Address

# Instance metadata services (AWS, GCP, Azure, Oracle; AWS over IPv6): they hand out the
# machine's cloud credentials, so they stay refused even when private addresses are allowed.
METADATA_ADDRESSES = frozenset({ip_address("169.254.169.254"), ip_address("fd00:ec2::254")})
_CGNAT = IPv4Network("100.64.0.0/10")
_NAT64 = IPv6Network("64:ff9b::/96")


def _embedded(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64): where packets end up."""
    if isinstance(address, IPv4Address):
        return None
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.ipv4_mapped or address.sixtofour


def non_public(address: IPAddress) -> str | None:
    """What makes `address` unfit to be reached from a worker ("a loopback address"), or None
    if it is public."""
    if address in METADATA_ADDRESSES:
        return "the cloud metadata address"
    inner = _embedded(address)
    if inner is not None:
        why = non_public(inner)
        return None if why is None else f"{why} ({inner} written as IPv6)"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address in _CGNAT:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


def is_metadata(address: IPAddress) -> bool:
    return address in METADATA_ADDRESSES or _embedded(address) in METADATA_ADDRESSES
