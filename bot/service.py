"""The bot's HTTP server, in its own event loop: GET /metrics (Prometheus) and GET /healthz."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import Counter
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.exceptions import StorageError

if TYPE_CHECKING:
    from bot.client import NewsBot

log = logging.getLogger(__name__)

# A trivial read slower than this means the database is stuck (a lock, a dead disk): a health
# check must answer quickly whatever the store does.
STORE_TIMEOUT = 1.0
CONNECTED = "connected"
# What a closed store or a broken database raises from a read (aiosqlite: ValueError).
STORE_ERRORS = (sqlite3.Error, ValueError, StorageError, TimeoutError)


def shard_states(bot: NewsBot) -> dict[int, str]:
    """Each shard of this process and whether its gateway connection is open."""
    shards = bot.shards
    expected = bot.shard_ids if bot.shard_ids is not None else range(bot.shard_count or 0)
    return {shard: CONNECTED if shard in shards and not shards[shard].is_closed()
            else "disconnected" for shard in expected}


async def store_state(bot: NewsBot) -> str:
    """"ok" when the database answers a trivial read in time, else what went wrong."""
    try:
        async with asyncio.timeout(STORE_TIMEOUT):
            await bot.news.store.schema_version()
    except TimeoutError:
        return f"no answer within {STORE_TIMEOUT:g} s"
    except STORE_ERRORS as exc:
        return f"cannot read: {exc}"
    return "ok"


async def health(bot: NewsBot) -> tuple[bool, dict[str, Any]]:
    """Whether every shard of this process is connected and the store answers, with why not."""
    reasons: list[str] = []
    if bot.is_closed():
        reasons.append("the bot is shutting down")
    elif not bot.is_ready():
        reasons.append("not ready: still starting or connecting to Discord")
    shards = shard_states(bot)
    reasons += [f"shard {shard} is {state}" for shard, state in shards.items()
                if state != CONNECTED]
    if not shards:
        reasons.append("no shard connected yet")
    store = await store_state(bot)
    if store != "ok":
        reasons.append(f"database {bot.news.store.path}: {store}")
    body = {"status": "unavailable" if reasons else "ok",
            "shards": {str(shard): state for shard, state in shards.items()},
            "store": store, "guilds": len(bot.guilds), "reasons": reasons}
    return not reasons, body


class Service:
    """The server and what /metrics reads at each scrape."""

    def __init__(self, bot: NewsBot):
        self.bot = bot
        self.runner: web.AppRunner | None = None
        # The article counts read the whole mentions table: only again once something wrote.
        self._counted_version: int | None = None

    async def start(self) -> bool:
        """Listen on NEWS_METRICS_HOST:NEWS_METRICS_PORT; False (logged) when it cannot."""
        settings = self.bot.settings
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
        except OSError as exc:  # in use, or an address this machine does not have
            await runner.cleanup()
            # The bot still answers in Discord: losing its metrics is no reason to go silent.
            log.error("NEWS_METRICS_PORT=%d: cannot listen on %s:%d (%s); running without "
                      "/metrics and /healthz: free that port or set NEWS_METRICS_PORT (and "
                      "NEWS_METRICS_HOST) to a free one", settings.metrics_port,
                      settings.metrics_host, settings.metrics_port, exc.strerror or exc)
            return False
        self.runner = runner
        log.info("metrics on http://%s:%d/metrics, health on /healthz",
                 settings.metrics_host, settings.metrics_port)
        return True

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def refresh(self) -> None:
        """Bring the gauges read from the bot's state up to date."""
        bot = self.bot
        guilds = Counter(guild.shard_id for guild in bot.guilds)
        for shard, latency in bot.latencies:
            bot.metrics.set_shard(shard, latency, guilds[shard])
        store = bot.news.store
        try:
            # The corpus version, not data_version: that one also moves at every lease
            # renewal and follow or digest write, and the count reads every mention.
            version = await store.corpus_version()
            if version != self._counted_version:
                bot.metrics.set_articles(await store.articles_by_source_kind())
                self._counted_version = version
        except STORE_ERRORS as exc:  # /healthz says so; the other metrics are still good
            log.debug("articles not counted: %s", exc)

    async def _metrics(self, _request: web.Request) -> web.Response:
        await self.refresh()
        return web.Response(body=self.bot.metrics.exposition(),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        healthy, body = await health(self.bot)
        return web.Response(text=json.dumps(body), status=200 if healthy else 503,
                            content_type="application/json")
