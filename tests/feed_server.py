"""A real local HTTP server for feed tests: register routes, point a fetcher at `url(path)`.

    async with FeedServer() as server:
        server.add("/feed.xml", b"<rss/>", etag='"v1"')
        server.redirect("/old", "/feed.xml", status=301)
        result = await fetcher.fetch(server.url("/old"))
        assert server.hits("/feed.xml") == 1

It listens on 127.0.0.1 only, on a free port, and records every request it answers.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

from aiohttp import web
from multidict import CIMultiDictProxy


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: CIMultiDictProxy[str]


@dataclass
class Route:
    """What one path answers; `stream` routes write `chunk` every `interval` seconds."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    encoding: str | None = None  # "gzip" or "deflate": body is sent compressed
    stream: bool = False
    chunk: bytes = b""
    interval: float = 0.0
    chunks: int | None = None  # None: until the client goes away


def _etag_matches(header: str, etag: str) -> bool:
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def _not_modified_since(header: str, last_modified: str) -> bool:
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False


def _compress(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return body


class FeedServer:
    """An aiohttp server on 127.0.0.1 answering the routes registered on it."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests being answered at once
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The address of `path` on this server (through `host`, e.g. a name a test resolves)."""
        return f"http://{host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        """How many requests for `path` arrived."""
        return sum(1 for seen in self.requests if seen.path == path)

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str | None = "application/rss+xml; charset=utf-8",
        headers: Mapping[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        encoding: str | None = None,
    ) -> Route:
        """Serve `body`; with `etag`/`last_modified`, answer 304 to matching validators."""
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        data = body.encode() if isinstance(body, str) else body
        route = Route(status, data, all_headers, etag, last_modified, encoding)
        self.routes[path] = route
        return route

    def redirect(self, path: str, to: str, status: int = 302) -> Route:
        """Answer `status` with `Location: to` (absolute or relative)."""
        return self.add(path, status=status, content_type=None, headers={"Location": to})

    def stream(
        self,
        path: str,
        chunk: bytes,
        *,
        interval: float = 0.0,
        chunks: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Route:
        """Send `chunk` every `interval` s, `chunks` times or until the client hangs up
        (a trickling server, or an endless body); no Content-Length."""
        route = Route(
            headers={"Content-Type": "application/rss+xml", **(headers or {})},
            stream=True,
            chunk=chunk,
            interval=interval,
            chunks=chunks,
        )
        self.routes[path] = route
        return route

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Seen(request.method, request.path, request.headers))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="no such route")
        if route.stream:
            return await self._stream(request, route)
        headers = dict(route.headers)
        if route.etag is not None:
            headers["ETag"] = route.etag
        if route.last_modified is not None:
            headers["Last-Modified"] = route.last_modified
        if self._not_modified(request, route):
            return web.Response(status=304, headers=headers)
        if route.encoding is not None:
            headers["Content-Encoding"] = route.encoding
        return web.Response(
            status=route.status, body=_compress(route.body, route.encoding), headers=headers
        )

    @staticmethod
    def _not_modified(request: web.Request, route: Route) -> bool:
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match is not None and route.etag is not None:
            return _etag_matches(if_none_match, route.etag)
        if_modified_since = request.headers.get("If-Modified-Since")
        if if_modified_since is not None and route.last_modified is not None:
            return _not_modified_since(if_modified_since, route.last_modified)
        return False

    @staticmethod
    async def _stream(request: web.Request, route: Route) -> web.StreamResponse:
        response = web.StreamResponse(status=route.status, headers=route.headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent = 0
        try:
            while route.chunks is None or sent < route.chunks:
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                await response.write(route.chunk)
                sent += 1
                await asyncio.sleep(route.interval)
            await response.write_eof()
        except ConnectionError:  # the client hung up, as a cut-off fetcher does
            pass
        return response
