"""The address guard: feeds are fetched over http(s) from public internet addresses only."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import TypeAlias

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from bot.exceptions import NewsBotError

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "NEWS_FEEDS_ALLOW_PRIVATE=1"
SCHEMES = frozenset({"http", "https"})
# NAT64 (RFC 6052) carries a public IPv4 address inside an IPv6 one: judge the IPv4 part.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchRefused(NewsBotError):
    """A URL the fetcher will not request; `str()` says why and what to do."""


class AddressRefused(FetchRefused):
    """The URL's host is (or resolves to) an address that is not on the public internet."""

    def __init__(self, host: str, address: str, problem: str):
        self.host = host
        self.address = address
        self.problem = problem
        where = address if host == address else f"{host} ({address})"
        super().__init__(
            f"refused to fetch from {where}: {problem} address, not on the public internet; "
            f"set {ALLOW_SETTING} to allow feeds on this machine or a private network"
        )


def _classify(address: IPAddress) -> str | None:
    """What makes one address non-public ("loopback", ...), or None if it is public."""
    checks = (
        (address.is_unspecified, "an unspecified"),
        (address.is_loopback, "a loopback"),
        (address.is_multicast, "a multicast"),
        (address.is_link_local, "a link-local"),
        (address.is_reserved, "a reserved"),
        (address.is_private, "a private"),
        (not address.is_global, "a non-global"),
    )
    return next((problem for failed, problem in checks if failed), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_problem(address: IPAddress) -> str | None:
    """Why `address` may not be fetched from ("a loopback", ...), or None if it is public.

    An IPv6 address that carries an IPv4 one is judged by the IPv4 address, since that is
    where packets end up (`::ffff:127.0.0.1` is loopback)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            problem = _classify(embedded)
            if problem is not None or address.ipv4_mapped is not None or address in NAT64:
                return problem
    return _classify(address)


def parse_address(text: str) -> IPAddress | None:
    """`text` as an IP address (IPv6 zone ids allowed), or None if it is a host name."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_localhost_name(host: str) -> bool:
    """`localhost` and its subdomains always mean this machine (RFC 6761)."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


class AddressPolicy:
    """Which addresses may be fetched from: public ones, plus `allowed_networks`, or all."""

    def __init__(self, *, allow_private: bool = False, allowed_networks: Iterable[str] = ()):
        self.allow_private = allow_private
        # Narrower than allow_private: e.g. one LAN feed server, while the rest stays guarded.
        self.allowed_networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(network) for network in allowed_networks
        )

    def check_address(self, host: str, address: IPAddress) -> None:
        """Raise AddressRefused unless `address` (what `host` resolved to) may be fetched."""
        if self.allow_private or any(address in network for network in self.allowed_networks):
            return
        problem = address_problem(address)
        if problem is not None:
            raise AddressRefused(host, str(address), problem)

    def check_url(self, url: URL) -> None:
        """Refuse, before any lookup, a URL that is not http(s) or names a non-public host.

        Host names are checked again on what they resolve to, by GuardedResolver."""
        if url.scheme not in SCHEMES:
            raise FetchRefused(
                f"refused to fetch {url}: only http:// and https:// feeds can be fetched"
            )
        host = url.host
        if not host:
            raise FetchRefused(f"refused to fetch {url}: the URL has no host name")
        address = parse_address(host)
        if address is not None:
            self.check_address(host, address)
        elif is_localhost_name(host) and not self.allow_private:
            raise AddressRefused(host, host, "a loopback")


class GuardedResolver(AbstractResolver):
    """Resolves through `base` and refuses when ANY address of the host is not allowed.

    aiohttp connects only to the addresses its resolver returns, so checking here checks the
    addresses actually connected to: a name cannot resolve to a public address for a check
    and to a private one for the connection (DNS rebinding), and every redirect hop that
    opens a connection is checked."""

    def __init__(self, policy: AddressPolicy, base: AbstractResolver | None = None):
        self._policy = policy
        self._base = base if base is not None else ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._base.resolve(host, port, family)
        for result in results:
            address = parse_address(result["host"])
            if address is None:
                raise AddressRefused(host, result["host"], "an unparseable")
            self._policy.check_address(host, address)
        return results

    async def close(self) -> None:
        await self._base.close()
