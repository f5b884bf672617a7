"""The client's address: the TCP peer, or what forwarding headers say, but only when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["ClientAddress"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    candidate = text.strip().strip('"')
    if candidate.startswith("["):  # Forwarded: for="[2001:db8::1]:4711"
        candidate = candidate[1:].partition("]")[0]
    elif candidate.count(":") == 1:  # IPv4 with a port
        candidate = candidate.partition(":")[0]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


class ClientAddress:
    """Resolves the client IP; forwarding headers from untrusted peers are ignored (they are trivially forged)."""

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self._trusted: tuple[_Network, ...] = tuple(ipaddress.ip_network(c, strict=False) for c in trusted_proxies)

    def _is_trusted(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return ip is not None and any(ip in net for net in self._trusted if net.version == ip.version)

    def resolve(self, peer: str | None, forwarded_for: list[str], forwarded: list[str]) -> str | None:
        """Walk the forwarding chain from the nearest hop outwards, stopping at the first untrusted address."""
        if not self._trusted or peer is None or not self._is_trusted(_parse_ip(peer)):
            return peer
        hops: list[str] = []
        if forwarded_for:
            for header in forwarded_for:
                hops.extend(h.strip() for h in header.split(",") if h.strip())
        elif forwarded:
            for header in forwarded:
                for element in header.split(","):
                    for pair in element.split(";"):
                        key, _, value = pair.strip().partition("=")
                        if key.lower() == "for" and value:
                            hops.append(value.strip())
        client = peer
        for hop in reversed(hops):
            ip = _parse_ip(hop)
            if ip is None:
                break  # an unparseable hop ends the trustworthy part of the chain
            client = str(ip)
            if not self._is_trusted(ip):
                break
        return client
