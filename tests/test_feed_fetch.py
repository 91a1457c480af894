"""Fetching feeds over real HTTP from a local server: validators, redirects, limits, the guard.

Every connection goes to the FeedServer on 127.0.0.1. Fetches from it use allow_private=True,
or allowed_networks=["127.0.0.1/32"] where a test needs the guard on for every other address;
other addresses are refused before any connection (names through MapResolver, a real aiohttp
resolver answering from a table instead of DNS).
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import zlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bot.feeds.fetch import Failed, Fetched, Fetcher, Gone, NotModified, retry_after_seconds
from bot.feeds.guard import address_problem
from tests.feed_server import FeedServer

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
ALLOW = "NEWS_FEEDS_ALLOW_PRIVATE=1"
LOOPBACK_ONLY = ["127.0.0.1/32"]


class MapResolver(AbstractResolver):
    """Answers names from a table, like DNS would; an unknown name is not found."""

    def __init__(self, table: Mapping[str, Sequence[str]]):
        self.table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.table[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as feed_server:
        yield feed_server


async def fetch(url: str, **options: Any) -> Any:
    """One fetch through a fresh Fetcher; local servers allowed unless options say otherwise."""
    options.setdefault("allow_private", True)
    async with Fetcher(**options) as fetcher:
        return await fetcher.fetch(url)


# --- validators -------------------------------------------------------------------------


async def test_etag_then_not_modified_then_changed(server: FeedServer) -> None:
    route = server.add("/feed", RSS, etag='"v1"')
    async with Fetcher(allow_private=True) as fetcher:
        first = await fetcher.fetch(server.url("/feed"))
        assert isinstance(first, Fetched)
        assert (first.status, first.body, first.etag) == (200, RSS, '"v1"')
        second = await fetcher.fetch(server.url("/feed"), etag=first.etag)
        assert isinstance(second, NotModified)
        assert second.etag == '"v1"'
        assert server.requests[-1].headers["If-None-Match"] == '"v1"'
        route.etag, route.body = '"v2"', RSS + b" "
        third = await fetcher.fetch(server.url("/feed"), etag='"v1"')
        assert isinstance(third, Fetched)
        assert (third.body, third.etag) == (RSS + b" ", '"v2"')


async def test_last_modified_then_not_modified(server: FeedServer) -> None:
    stamp = "Wed, 01 May 2024 10:00:00 GMT"
    server.add("/feed", RSS, last_modified=stamp)
    first = await fetch(server.url("/feed"))
    assert isinstance(first, Fetched)
    assert first.last_modified == stamp
    async with Fetcher(allow_private=True) as fetcher:
        second = await fetcher.fetch(server.url("/feed"), last_modified=stamp)
    assert isinstance(second, NotModified)
    assert second.last_modified == stamp
    assert server.requests[-1].headers["If-Modified-Since"] == stamp


async def test_request_headers_name_the_bot(server: FeedServer) -> None:
    server.add("/feed", RSS)
    await fetch(server.url("/feed"), project_url="https://example.org/bot")
    headers = server.requests[0].headers
    assert headers["User-Agent"].startswith("AI-News-Bot/")
    assert headers["User-Agent"].endswith("(+https://example.org/bot)")
    assert "application/rss+xml" in headers["Accept"]
    assert "application/atom+xml" in headers["Accept"]
    assert "gzip" in headers["Accept-Encoding"]
    assert "If-None-Match" not in headers


async def test_wrong_content_type_is_fetched_and_recorded(server: FeedServer) -> None:
    server.add("/feed", RSS, content_type="text/html; charset=utf-8")
    result = await fetch(server.url("/feed"))
    assert isinstance(result, Fetched)
    assert (result.body, result.content_type) == (RSS, "text/html; charset=utf-8")


# --- redirects --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
async def test_permanent_redirect_gives_the_new_url(server: FeedServer, status: int) -> None:
    server.redirect("/old", "/new", status=status)
    server.add("/new", RSS)
    result = await fetch(server.url("/old"))
    assert isinstance(result, Fetched)
    assert result.body == RSS
    assert result.url == server.url("/old")
    assert result.final_url == server.url("/new")
    assert result.permanent_url == server.url("/new")


@pytest.mark.parametrize("status", [302, 303, 307])
async def test_temporary_redirect_keeps_the_url(server: FeedServer, status: int) -> None:
    server.redirect("/old", server.url("/new"), status=status)
    server.add("/new", RSS)
    result = await fetch(server.url("/old"))
    assert isinstance(result, Fetched)
    assert result.final_url == server.url("/new")
    assert result.permanent_url is None


async def test_permanent_url_stops_at_the_first_temporary_hop(server: FeedServer) -> None:
    server.redirect("/a", "/b", status=301)
    server.redirect("/b", "/c", status=302)
    server.redirect("/c", "/d", status=301)
    server.add("/d", RSS, etag='"x"')
    result = await fetch(server.url("/a"))
    assert isinstance(result, Fetched)
    assert (result.final_url, result.permanent_url) == (server.url("/d"), server.url("/b"))
    server.redirect("/t", "/p", status=307)
    server.redirect("/p", "/d", status=308)
    assert (await fetch(server.url("/t"))).permanent_url is None


async def test_not_modified_after_a_permanent_redirect(server: FeedServer) -> None:
    server.redirect("/old", "/new", status=301)
    server.add("/new", RSS, etag='"v1"')
    async with Fetcher(allow_private=True) as fetcher:
        result = await fetcher.fetch(server.url("/old"), etag='"v1"')
    assert isinstance(result, NotModified)
    assert result.permanent_url == server.url("/new")


async def test_five_redirects_are_followed_six_are_not(server: FeedServer) -> None:
    for hop in range(6):
        server.redirect(f"/r{hop}", f"/r{hop + 1}")
    server.add("/r6", RSS)
    followed = await fetch(server.url("/r1"))
    assert isinstance(followed, Fetched)
    assert followed.final_url == server.url("/r6")
    too_many = await fetch(server.url("/r0"))
    assert isinstance(too_many, Failed)
    assert too_many.reason.startswith("too many redirects (more than 5)")
    assert server.hits("/r6") == 1


async def test_redirect_loop(server: FeedServer) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", "/a")
    result = await fetch(server.url("/a"))
    assert isinstance(result, Failed)
    loop = f"redirect loop: {server.url('/b')} redirects back to {server.url('/a')}"
    assert result.reason == loop
    assert server.hits("/a") == 1


async def test_redirect_without_location(server: FeedServer) -> None:
    server.add("/feed", status=301, content_type=None)
    result = await fetch(server.url("/feed"))
    assert isinstance(result, Failed)
    assert result.reason == "HTTP 301 Moved Permanently without a Location header"


async def test_redirect_to_another_scheme_is_refused(server: FeedServer) -> None:
    server.redirect("/feed", "file:///etc/passwd")
    result = await fetch(server.url("/feed"))
    assert isinstance(result, Failed)
    assert result.reason == (
        "refused to fetch file:///etc/passwd: only http:// and https:// feeds can be fetched"
    )


# --- statuses ---------------------------------------------------------------------------


async def test_gone(server: FeedServer) -> None:
    server.redirect("/old", "/gone", status=308)
    server.add("/gone", status=410)
    result = await fetch(server.url("/old"))
    assert result == Gone(server.url("/old"), server.url("/gone"), server.url("/gone"))


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds(server: FeedServer, status: int) -> None:
    server.add("/feed", status=status, headers={"Retry-After": "120"})
    result = await fetch(server.url("/feed"))
    assert isinstance(result, Failed)
    assert (result.status, result.retry_after) == (status, 120.0)
    phrase = "Too Many Requests" if status == 429 else "Service Unavailable"
    assert result.reason == f"HTTP {status} {phrase}"


async def test_retry_after_as_a_date(server: FeedServer) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    server.add("/feed", status=429, headers={"Retry-After": format_datetime(later, usegmt=True)})
    result = await fetch(server.url("/feed"))
    assert isinstance(result, Failed)
    assert result.retry_after is not None
    assert 3000 < result.retry_after <= 3600


async def test_busy_without_retry_after(server: FeedServer) -> None:
    server.add("/feed", status=503)
    result = await fetch(server.url("/feed"))
    assert result == Failed(server.url("/feed"), "HTTP 503 Service Unavailable", 503, None)


def test_retry_after_forms() -> None:
    now = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("0", now) == 0.0
    assert retry_after_seconds(" 30 ", now) == 30.0
    assert retry_after_seconds("Wed, 01 May 2024 10:02:00 GMT", now) == 120.0
    assert retry_after_seconds("Wed, 01 May 2024 09:00:00 GMT", now) == 0.0  # already past
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("-5", now) is None
    assert retry_after_seconds(None, now) is None


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (500, "HTTP 500 Internal Server Error"),
        (404, "HTTP 404 Not Found"),
        (403, "HTTP 403 Forbidden"),
        (502, "HTTP 502 Bad Gateway"),
    ],
)
async def test_http_errors(server: FeedServer, status: int, reason: str) -> None:
    server.add("/feed", b"oops", status=status)
    result = await fetch(server.url("/feed"))
    assert result == Failed(server.url("/feed"), reason, status, None)


# --- limits -----------------------------------------------------------------------------


async def test_trickling_server_is_cut_off(server: FeedServer) -> None:
    # One byte every 0.05 s for 5 s: the whole document, were the fetcher to wait for it.
    server.stream("/feed", b"<", interval=0.05, chunks=100)
    result = await fetch(server.url("/feed"), total_timeout=0.5)
    assert result == Failed(server.url("/feed"), "timed out after 0.5 s")


async def test_declared_length_over_the_cap(server: FeedServer) -> None:
    server.add("/feed", b"x" * 2_000)
    result = await fetch(server.url("/feed"), max_bytes=1_000)
    assert isinstance(result, Failed)
    assert result.reason == (
        "too big: 0.002 MB declared, over the 0.001 MB limit (NEWS_FEED_MAX_BYTES)"
    )


async def test_endless_body_is_cut_off_at_the_cap(server: FeedServer) -> None:
    # Reading it all first would never end: the cap must stop the read.
    server.stream("/feed", b"x" * 4096)
    result = await fetch(server.url("/feed"), max_bytes=100_000, total_timeout=10)
    assert result == Failed(
        server.url("/feed"), "too big: more than the 0.1 MB limit (NEWS_FEED_MAX_BYTES)"
    )


async def test_body_at_the_cap_is_kept(server: FeedServer) -> None:
    server.stream("/feed", b"x" * 1000, chunks=100)
    result = await fetch(server.url("/feed"), max_bytes=100_000)
    assert isinstance(result, Fetched)
    assert len(result.body) == 100_000


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_body_arrives_decompressed(server: FeedServer, encoding: str) -> None:
    document = RSS * 1000
    server.add("/feed", document, encoding=encoding)
    result = await fetch(server.url("/feed"))
    assert isinstance(result, Fetched)
    assert result.body == document


async def test_gzip_bomb_is_cut_off_at_the_cap(server: FeedServer) -> None:
    bomb = gzip.compress(bytes(50_000_000))
    assert len(bomb) < 1_000_000
    server.add("/feed", bomb, headers={"Content-Encoding": "gzip"})
    result = await fetch(server.url("/feed"), max_bytes=1_000_000)
    assert result == Failed(
        server.url("/feed"), "too big: more than the 1 MB limit (NEWS_FEED_MAX_BYTES)"
    )


async def test_broken_gzip_is_a_failure(server: FeedServer) -> None:
    server.add("/feed", zlib.compress(RSS)[:-6] + b"garbage", headers={"Content-Encoding": "gzip"})
    result = await fetch(server.url("/feed"))
    assert isinstance(result, Failed)
    assert result.reason.startswith("broken response body from 127.0.0.1")


async def test_concurrency_is_bounded_per_host_and_overall(server: FeedServer) -> None:
    server.stream("/slow", b"<", interval=0.02, chunks=5)
    resolver = MapResolver({"feeds.example": ["127.0.0.1"]})
    urls = [server.url("/slow")] * 4 + [server.url("/slow", host="feeds.example")] * 4
    async with Fetcher(allow_private=True, limit=3, limit_per_host=2, resolver=resolver) as f:
        results = await asyncio.gather(*(f.fetch(url) for url in urls))
    assert all(isinstance(result, Fetched) for result in results)
    assert server.max_in_flight == 3
    server.max_in_flight = 0
    async with Fetcher(allow_private=True, limit_per_host=2) as fetcher:
        await asyncio.gather(*(fetcher.fetch(server.url("/slow")) for _ in range(6)))
    assert server.max_in_flight == 2


async def test_waiting_for_a_turn_does_not_count_against_the_timeout(server: FeedServer) -> None:
    # Eight answers of 0.3 s one after another take longer than one fetch may.
    server.stream("/slow", b"<", interval=0.1, chunks=3)
    async with Fetcher(allow_private=True, limit_per_host=1, total_timeout=1.5) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(server.url("/slow")) for _ in range(8)))
    assert [type(result) for result in results] == [Fetched] * 8
    assert server.max_in_flight == 1


# --- network failures -------------------------------------------------------------------


async def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await fetch(f"http://127.0.0.1:{port}/feed")
    assert isinstance(result, Failed)
    assert result.reason.startswith(f"cannot connect to 127.0.0.1:{port}: ")


async def test_dns_failure() -> None:
    result = await fetch("http://nowhere.example/feed", resolver=MapResolver({}))
    assert result == Failed(
        "http://nowhere.example/feed",
        "DNS lookup failed for nowhere.example: Name or service not known",
    )


async def test_tls_to_a_plain_http_server(server: FeedServer) -> None:
    server.add("/feed", RSS)
    result = await fetch(f"https://127.0.0.1:{server.port}/feed")
    assert isinstance(result, Failed)
    assert result.reason.startswith("TLS error with 127.0.0.1: ")


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "file:///etc/passwd", "feed.xml"])
async def test_only_http_and_https(url: str) -> None:
    result = await fetch(url)
    assert isinstance(result, Failed)
    assert "only http:// and https:// feeds can be fetched" in result.reason


async def test_not_a_url() -> None:
    result = await fetch("http://[::1/feed")
    assert isinstance(result, Failed)
    assert result.reason.startswith("invalid URL 'http://[::1/feed'")


# --- the address guard ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "shown", "problem"),
    [
        ("127.0.0.1", "127.0.0.1", "a loopback"),
        ("10.0.0.1", "10.0.0.1", "a private"),
        ("[::1]", "::1", "a loopback"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1", "a loopback"),  # as yarl writes it
        ("localhost", "localhost", "a loopback"),
        ("feeds.localhost", "feeds.localhost", "a loopback"),
        ("169.254.169.254", "169.254.169.254", "a link-local"),
        ("0.0.0.0", "0.0.0.0", "an unspecified"),  # noqa: S104 (a URL, not a bind)
        ("192.168.1.20", "192.168.1.20", "a private"),
    ],
)
async def test_guard_refuses_before_connecting(
    server: FeedServer, host: str, shown: str, problem: str
) -> None:
    server.add("/feed", RSS)
    url = f"http://{host}:{server.port}/feed"
    result = await fetch(url, allow_private=False, connect_timeout=0.5)
    assert result == Failed(
        url,
        f"refused to fetch from {shown}: {problem} address, not on the public internet; "
        f"set {ALLOW} to allow feeds on this machine or a private network",
    )
    assert server.requests == []


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("2130706433", "invalid URL http://2130706433:{port}/feed: "),
        ("127.1", "invalid URL http://127.1:{port}/feed: "),
        ("0x7f.1", "refused to fetch from 0x7f.1 (127.0.0.1): a loopback address"),
        ("[0:0:0:0:0:ffff:127.0.0.1]", "refused to fetch from ::ffff:7f00:1: a loopback address"),
        ("LOCALHOST", "refused to fetch from localhost: a loopback address"),
        ("localhost.", "refused to fetch from localhost.: a loopback address"),
        ("[::]", "refused to fetch from ::: an unspecified address"),
        ("[fe80::1%25lo]", "refused to fetch from fe80::1%lo: a link-local address"),
    ],
)
async def test_odd_spellings_of_local_addresses(server: FeedServer, host: str, reason: str) -> None:
    server.add("/feed", RSS)
    result = await fetch(f"http://{host}:{server.port}/feed", allow_private=False)
    assert isinstance(result, Failed)
    assert result.reason.startswith(reason.format(port=server.port))
    assert server.requests == []


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["192.168.0.10"], "192.168.0.10"),
        (["fd00::10"], "fd00::10"),
        # ANY bad address refuses the name: the connection could go to either.
        (["93.184.216.34", "127.0.0.1"], "127.0.0.1"),
    ],
)
async def test_guard_checks_what_a_name_resolves_to(addresses: list[str], refused: str) -> None:
    resolver = MapResolver({"intranet.example": addresses})
    result = await fetch("http://intranet.example/feed", allow_private=False, resolver=resolver)
    assert isinstance(result, Failed)
    assert result.reason.startswith(f"refused to fetch from intranet.example ({refused}): ")
    assert result.reason.endswith(
        f"set {ALLOW} to allow feeds on this machine or a private network"
    )


async def test_allow_private_lifts_the_guard(server: FeedServer) -> None:
    server.add("/feed", RSS)
    resolver = MapResolver({"intranet.example": ["127.0.0.1"]})
    result = await fetch(server.url("/feed", host="intranet.example"), resolver=resolver)
    assert isinstance(result, Fetched)
    assert result.body == RSS


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1:{port}/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/feed",
        "http://[::ffff:127.0.0.1]:{port}/feed",
        "http://localhost:{port}/feed",
        "http://intranet.example:{port}/feed",
    ],
)
async def test_every_redirect_hop_is_checked(server: FeedServer, target: str) -> None:
    # feeds.example stands for a public feed server: the one address let through is the test
    # server's, so the guard is on for every address a redirect can lead to.
    resolver = MapResolver({"feeds.example": ["127.0.0.1"], "intranet.example": ["10.1.2.3"]})
    location = target.format(port=server.port)
    server.redirect("/feed", location, status=301)
    server.add("/private", RSS)
    result = await fetch(
        server.url("/feed", host="feeds.example"),
        allow_private=False,
        allowed_networks=LOOPBACK_ONLY,
        resolver=resolver,
        connect_timeout=0.5,
    )
    assert isinstance(result, Failed)
    assert result.reason.startswith("refused to fetch from ")
    assert ALLOW in result.reason
    assert result.permanent_url == str(URL(location))  # stored as yarl writes it
    assert [seen.path for seen in server.requests] == ["/feed"]


async def test_allowed_network_is_served(server: FeedServer) -> None:
    server.redirect("/feed", "/moved")
    server.add("/moved", RSS)
    result = await fetch(server.url("/feed"), allow_private=False, allowed_networks=LOOPBACK_ONLY)
    assert isinstance(result, Fetched)
    assert result.body == RSS


PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",  # IPv4-mapped public
    "64:ff9b::808:808",  # NAT64 of a public address
    "2002:808:808::1",  # 6to4 of a public address
]

NOT_PUBLIC = {
    "127.0.0.1": "a loopback",
    "127.255.255.254": "a loopback",
    "::1": "a loopback",
    "10.0.0.1": "a private",
    "172.16.5.4": "a private",
    "192.168.1.1": "a private",
    "fc00::1": "a private",
    "fd12:3456::1": "a private",
    "169.254.169.254": "a link-local",
    "fe80::1": "a link-local",
    "fe80::1%eth0": "a link-local",
    "0.0.0.0": "an unspecified",  # noqa: S104 (an address to judge, not a bind)
    "::": "an unspecified",
    "224.0.0.1": "a multicast",
    "239.255.255.250": "a multicast",
    "ff02::1": "a multicast",
    "ff0e::1": "a multicast",
    "240.0.0.1": "a reserved",
    "255.255.255.255": "a reserved",
    "::127.0.0.1": "a reserved",  # IPv4-compatible (deprecated)
    "100.64.0.1": "a non-global",  # carrier-grade NAT
    "192.0.2.1": "a private",
    "198.51.100.7": "a private",
    "203.0.113.9": "a private",
    "198.18.0.1": "a private",
    "2001:db8::1": "a private",  # documentation, benchmarking
    "::ffff:127.0.0.1": "a loopback",
    "::ffff:10.0.0.1": "a private",
    "::ffff:169.254.169.254": "a link-local",
    "::ffff:0.0.0.0": "an unspecified",
    "64:ff9b::7f00:1": "a loopback",
    "64:ff9b::a9fe:a9fe": "a link-local",  # NAT64
    "2002:7f00:1::": "a loopback",
    "2002:a00:1::": "a private",  # 6to4
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "a private",  # Teredo
}


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses(text: str) -> None:
    assert address_problem(ipaddress.ip_address(text)) is None


@pytest.mark.parametrize(("text", "problem"), NOT_PUBLIC.items())
def test_non_public_addresses(text: str, problem: str) -> None:
    assert address_problem(ipaddress.ip_address(text)) == problem
