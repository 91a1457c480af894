"""Fetching feed documents over HTTP: conditional, bounded, guarded; every outcome a value."""

from __future__ import annotations

import asyncio
import email.utils
import importlib.metadata
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Self, TypeAlias

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from bot.feeds.guard import AddressPolicy, FetchRefused, GuardedResolver

PROJECT_URL = "https://github.com/ai-news-bot/ai-news-bot"
MAX_REDIRECTS = 5
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Servers that are busy or rate-limiting say when to come back.
RETRY_STATUSES = frozenset({429, 503})
CHUNK_BYTES = 64 * 1024
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


def _version() -> str:
    try:
        return importlib.metadata.version("ai-news-bot")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "dev"


@dataclass(frozen=True)
class Fetched:
    """A 2xx answer with its body (decompressed); `content_type` is the raw header."""

    url: str
    final_url: str
    permanent_url: str | None
    status: int
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class NotModified:
    """304: the document has not changed since the validators sent."""

    url: str
    final_url: str
    permanent_url: str | None
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class Gone:
    """410: the feed was removed for good and should be disabled."""

    url: str
    final_url: str
    permanent_url: str | None


@dataclass(frozen=True)
class Failed:
    """Anything else; `reason` is one line for the feed list, `retry_after` in seconds."""

    url: str
    reason: str
    status: int | None = None
    retry_after: float | None = None
    permanent_url: str | None = None


FetchResult: TypeAlias = Fetched | NotModified | Gone | Failed


class _Failure(Exception):
    """Ends one fetch with `Failed(reason, status, retry_after)`."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def _status_line(status: int, reason: str | None) -> str:
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    return f"HTTP {status} {reason}".rstrip()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (delay in seconds or an HTTP date) as seconds from now."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _describe_client_error(exc: aiohttp.ClientError, url: URL) -> str:
    """One line for a network failure aiohttp reported."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup failed for {url.host}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate error for {url.host}: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"TLS error with {url.host}: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return f"{url.host} closed the connection before answering completely"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"broken response body from {url.host}: {exc}"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL {url}: {exc.description or exc.url}"
    return f"HTTP error from {url.host}: {exc or type(exc).__name__}"


class _HostSlots:
    """At most `limit` requests at a time per host; idle hosts are forgotten."""

    def __init__(self, limit: int):
        self._limit = limit
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        semaphore, users = self._slots.get(host, (asyncio.Semaphore(self._limit), 0))
        self._slots[host] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._slots[host]
            if users == 1:
                del self._slots[host]
            else:
                self._slots[host] = (semaphore, users - 1)


class Fetcher:
    """One HTTP session for feed polls: `async with Fetcher() as f: await f.fetch(url)`.

    Concurrency is bounded overall and per host here, before a request starts, so that the
    time a fetch waits for its turn does not count against its timeouts. `allowed_networks`
    (CIDR strings) are fetched from even without `allow_private`; `resolver` replaces the
    system's name lookup under the guard and is closed with the Fetcher."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_networks: Iterable[str] = (),
        max_bytes: int = 10_000_000,
        connect_timeout: float = 10.0,
        total_timeout: float = 30.0,
        limit: int = 16,
        limit_per_host: int = 2,
        project_url: str = PROJECT_URL,
        resolver: AbstractResolver | None = None,
    ):
        self._policy = AddressPolicy(allow_private=allow_private, allowed_networks=allowed_networks)
        self._max_bytes = max_bytes
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._host_slots = _HostSlots(limit_per_host)
        self._base_resolver = resolver
        self.user_agent = f"AI-News-Bot/{_version()} (+{project_url})"
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None

    async def __aenter__(self) -> Self:
        self._resolver = GuardedResolver(self._policy, self._base_resolver)
        connector = aiohttp.TCPConnector(resolver=self._resolver, limit=self._limit)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={
                "User-Agent": self.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
            # Cookies from one feed server must not reach another, and nothing is kept.
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        # A connector does not close a resolver it was given.
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None

    async def fetch(
        self, url: str, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url` (conditionally, following up to 5 redirects); never raises for network
        or HTTP trouble: that is a Failed."""
        if self._session is None:
            raise RuntimeError("Fetcher.fetch called outside `async with Fetcher()`")
        async with self._slots:
            return await _Fetch(self, self._session, url, etag, last_modified).run()


class _Fetch:
    """One fetch of one feed URL, hop by hop."""

    def __init__(
        self,
        fetcher: Fetcher,
        session: aiohttp.ClientSession,
        url: str,
        etag: str | None,
        last_modified: str | None,
    ):
        self.fetcher = fetcher
        self.session = session
        self.url = url
        self.headers: dict[str, str] = {}
        if etag:
            self.headers["If-None-Match"] = etag
        if last_modified:
            self.headers["If-Modified-Since"] = last_modified
        self.permanent_url: str | None = None
        # Time left of the total timeout, spent only while a request of this fetch runs.
        self.budget = fetcher._total_timeout

    async def run(self) -> FetchResult:
        try:
            return await self._follow(URL(self.url))
        except _Failure as failure:
            return Failed(
                self.url, failure.reason, failure.status, failure.retry_after, self.permanent_url
            )
        except ValueError as exc:  # yarl: not a URL at all
            return Failed(self.url, f"invalid URL {self.url!r}: {exc}")

    async def _follow(self, url: URL) -> FetchResult:
        seen = {url}
        permanent_so_far = True
        for _hop in range(MAX_REDIRECTS + 1):
            result = await self._hop(url)
            if not isinstance(result, _Redirect):
                return result
            status, target = result.status, result.target
            # A permanent move of a temporary address is not permanent for the feed.
            permanent_so_far = permanent_so_far and status in PERMANENT_REDIRECTS
            if permanent_so_far:
                self.permanent_url = str(target)
            if target in seen:
                raise _Failure(f"redirect loop: {url} redirects back to {target}", status)
            seen.add(target)
            url = target
        raise _Failure(f"too many redirects (more than {MAX_REDIRECTS}), last to {url}")

    async def _hop(self, url: URL) -> FetchResult | _Redirect:
        fetcher = self.fetcher
        try:
            fetcher._policy.check_url(url)
        except FetchRefused as exc:
            raise _Failure(str(exc)) from exc
        async with fetcher._host_slots.hold(url.host or ""):
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                async with asyncio.timeout(self.budget):
                    return await self._request(url)
            except aiohttp.ConnectionTimeoutError as exc:  # before TimeoutError: it is one
                raise _Failure(
                    f"connecting to {url.host} timed out after {fetcher._connect_timeout:g} s"
                ) from exc
            except TimeoutError as exc:
                raise _Failure(f"timed out after {fetcher._total_timeout:g} s") from exc
            except FetchRefused as exc:
                raise _Failure(str(exc)) from exc
            except aiohttp.ClientError as exc:
                raise _Failure(_describe_client_error(exc, url)) from exc
            except OSError as exc:  # what aiohttp lets through unwrapped, TLS errors included
                raise _Failure(f"network error with {url.host}: {exc}") from exc
            finally:
                self.budget -= loop.time() - started

    async def _request(self, url: URL) -> FetchResult | _Redirect:
        async with self.session.get(url, headers=self.headers, allow_redirects=False) as response:
            status = response.status
            final = str(url)
            if status in REDIRECTS:
                return _Redirect.of(response, url)
            if status == 304:
                return NotModified(
                    self.url,
                    final,
                    self.permanent_url,
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                )
            if status == 410:
                return Gone(self.url, final, self.permanent_url)
            if status >= 300:
                retry_after = None
                if status in RETRY_STATUSES:
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                raise _Failure(_status_line(status, response.reason), status, retry_after)
            body = await self._read(response)
            return Fetched(
                self.url,
                final,
                self.permanent_url,
                status,
                body,
                response.headers.get("Content-Type"),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
            )

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The body, decompressed, stopping as soon as it passes the size cap."""
        cap = self.fetcher._max_bytes
        limit = f"the {_megabytes(cap)} limit (NEWS_FEED_MAX_BYTES)"
        declared = response.content_length
        # Content-Length counts the bytes sent, compressed or not; decompressing only adds.
        if declared is not None and declared > cap:
            raise _Failure(f"too big: {_megabytes(declared)} declared, over {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            size += len(chunk)
            if size > cap:
                raise _Failure(f"too big: more than {limit}")
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass(frozen=True)
class _Redirect:
    """A 3xx hop: where to go next."""

    status: int
    target: URL

    @classmethod
    def of(cls, response: aiohttp.ClientResponse, url: URL) -> _Redirect:
        location = response.headers.get("Location")
        if not location:
            raise _Failure(
                f"{_status_line(response.status, response.reason)} without a Location header",
                response.status,
            )
        return cls(response.status, url.join(URL(location)))
