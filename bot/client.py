"""The Bot class: opens nothing itself; syncs the corpus, loads cogs, syncs commands."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import random
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import aiohttp
import discord
from discord.ext import commands

from bot.answer import Endpoint, Writer
from bot.config import Settings
from bot.errors import NewsTree
from bot.exceptions import StorageError
from bot.logs import setup_logging
from bot.metrics import Metrics
from bot.queries import FeedListError, News
from bot.results import SyncReport
from bot.service import Service
from bot.shards import owns
from bot.store import Store

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.news", "bot.cogs.admin", "bot.cogs.digest", "bot.cogs.follow",
              "bot.cogs.chat")
COMMAND_HASH_KEY = "global_command_hash"


class NewsBot(commands.AutoShardedBot):
    """AI News Bot. The corpus (`news`) is created outside and passed in.

    Sharded by discord.py itself: it connects the shards `settings.shard_ids` of
    `settings.shard_count` (by default all of the count Discord recommends).
    """

    def __init__(self, *, news: News, settings: Settings):
        intents = discord.Intents.none()
        intents.guilds = True  # channels and roles for replies and digests; not privileged
        # Mentions and DMs (bot.cogs.chat). Not privileged; message content stays off: a
        # mention of the bot and a DM carry their content without it.
        intents.guild_messages = True
        intents.dm_messages = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=NewsTree,
            owner_ids=set(settings.owner_ids) or None,
            help_command=None,
            **_sharding(settings),
        )
        self.news = news
        self.settings = settings
        self.started_at = datetime.now(UTC)
        self.stopping = False  # set by close(): commands get a "restarting" reply meanwhile
        self.writer = Writer(Endpoint.of(settings))  # written answers to questions (NEWS_LLM_*)
        # Everything time-dependent asks this; tests replace it to move time without sleeping.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.metrics = Metrics()
        cast(NewsTree, self.tree).metrics = self.metrics
        self.service: Service | None = None

    async def setup_hook(self) -> None:
        await self._start_service()
        report = await self.sync_corpus()
        if report.refused:  # the bot answers from what is stored
            log.warning("first sync: %s", report.refused)
        else:
            log.info("first sync: %s", report.summary())
            if not report.articles:
                log.warning("no articles: seeds folder %s holds no article files; put some "
                            "there or point NEWS_SEEDS_DIR at them", report.seeds_dir)
        for path, reason in report.failed:
            log.warning("skipped %s: %s", path, reason)
        await self._merge_feed_list()
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError:
                log.exception("could not load %s; its commands are missing", extension)
        await self.sync_commands()
        # What start-up made (modules, the corpus index, discord.py's state) lives as long
        # as the process. Frozen, the cyclic garbage collector stops walking it at every
        # full collection (halving those pauses, ~60 -> ~30 ms at 100,000 articles); the
        # collect first keeps start-up's own garbage out of the frozen set.
        gc.collect()
        gc.freeze()

    async def _merge_feed_list(self) -> None:
        """Add the feeds of NEWS_FEEDS_FILE not yet known (never one the operator removed)."""
        try:
            added = await self.news.merge_feed_list(self.settings.feeds_file)
        except FeedListError as exc:  # the stored feed list is still polled
            log.warning("%s", exc)
            return
        if added:
            log.info("added %d feeds from %s", len(added), self.settings.feeds_file)

    async def _start_service(self) -> None:
        """Serve /metrics and /healthz from the start (a health check then says "starting")."""
        if self.settings.metrics_port:
            service = Service(self)
            if await service.start():
                self.service = service

    async def sync_corpus(self) -> SyncReport:
        """News.sync, timed and counted in the metrics (a refused or failed one as a failure)."""
        started = time.perf_counter()
        try:
            report = await self.news.sync()
        except Exception:
            self.metrics.sync_done(time.perf_counter() - started, None)
            raise
        self.metrics.sync_done(time.perf_counter() - started,
                               None if report.refused else datetime.now(UTC))
        return report

    async def on_app_command_completion(
        self, interaction: discord.Interaction, _command: object
    ) -> None:
        cast(NewsTree, self.tree).measure(interaction, "ok")

    async def close(self) -> None:
        # Before the cogs unload (which waits for a digest post in flight), so that no
        # command starts meanwhile.
        self.stopping = True
        await self.writer.close()
        await super().close()
        if self.service is not None:
            await self.service.stop()
        gc.unfreeze()  # what start-up froze may be garbage now (e.g. a bot in the tests)

    async def on_message(self, message: discord.Message, /) -> None:
        """Mentions and DMs are questions (bot.cogs.chat answers them); the bot has no
        prefix commands to look for in them."""

    def owns_guild(self, guild_id: int) -> bool:
        """Whether this process posts for the server: its shard is one of ours."""
        return owns(guild_id, self.shard_count, self.shard_ids)

    def command_hash(self) -> str:
        """A hash of the command payload Discord would receive, to sync only on change."""
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands()]
        encoded = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()

    async def sync_commands(self, *, force_global: bool = False) -> int:
        """Sync the dev guild (if set) always; globally only on change or when forced."""
        if self.settings.dev_guild_id:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to dev guild %s", len(synced), guild.id)
        current = self.command_hash()
        stored = await self.news.store.get_meta(COMMAND_HASH_KEY)
        if not force_global and stored == current:
            log.info("command set unchanged; no global sync")
            return len(self.tree.get_commands())
        synced = await self.tree.sync()
        await self.news.store.set_meta(COMMAND_HASH_KEY, current)
        log.info("synced %d commands globally", len(synced))
        return len(synced)


def _sharding(settings: Settings) -> dict[str, Any]:
    """discord.py's sharding options: the count (None: Discord's recommendation) and, when
    this process connects only some of the shards, their ids."""
    options: dict[str, Any] = {"shard_count": settings.shard_count}
    if settings.shard_ids is not None:
        options["shard_ids"] = list(settings.shard_ids)
    return options


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between attempts to reach Discord: doubling from `first` seconds up to `cap`."""

    first: float = 1.0
    cap: float = 60.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            # Jitter: many bots cut off by one outage do not all come back in the same second.
            yield min(self.cap, delay) * random.uniform(0.8, 1.2)  # noqa: S311 - not secret
            delay *= 2


# What discord.py raises from login() when Discord's HTTP API cannot be reached (no
# network, DNS failure, connection refused, timeout). Once logged in, connect() retries
# the gateway itself.
UNREACHABLE = (aiohttp.ClientConnectionError, TimeoutError)


async def start_bot(settings: Settings, *, backoff: Backoff = Backoff()) -> None:
    """Open the store, run the bot until it is closed or signalled, then close everything.

    While Discord cannot be reached the bot waits (per `backoff`) and tries again; a
    signal ends the wait at once.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with await Store.open(settings.db_path) as store:
            news = News(store, settings.seeds_dir, max_bytes=settings.max_file_bytes,
                        yaml_backend=settings.yaml_parser,
                        feed_minutes=settings.feeds_minutes or 15,
                        feed_retention_days=settings.feed_retention_days)
            await _run_until_stopped(news, settings, stop, backoff)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _run_until_stopped(
    news: News, settings: Settings, stop: asyncio.Event, backoff: Backoff
) -> None:
    delays = backoff.delays()
    while not stop.is_set():
        try:
            await _run_once(news, settings, stop)
            return
        except UNREACHABLE as exc:
            reason = str(exc) or type(exc).__name__
        if stop.is_set():  # closed by a signal while logging in
            return
        delay = next(delays)
        log.warning("cannot reach Discord (%s); trying again in %.1f s", reason, delay)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await stop.wait()


async def _run_once(news: News, settings: Settings, stop: asyncio.Event) -> None:
    """One bot from login until it is closed or `stop` is set.

    A fresh bot per attempt: a failed login leaves discord.py's HTTP session closed. The
    store and corpus are shared, and setup_hook (the first sync, the cogs) runs inside
    login only once Discord has answered, so a failed attempt has not run it.
    """
    async with NewsBot(news=news, settings=settings) as bot:
        closer = asyncio.create_task(_close_when(stop, bot))
        try:
            await bot.start(settings.token)
        finally:
            if stop.is_set():
                await closer  # cancelling it would cancel the close it is waiting for
            else:
                closer.cancel()


async def _close_when(stop: asyncio.Event, bot: NewsBot) -> None:
    await stop.wait()
    await bot.close()


def run_bot(settings: Settings) -> int:
    """The `run` command: start the bot; one clear line instead of a traceback on failure."""
    setup_logging(settings)
    log.debug("starting with %r", settings)
    # A missing seeds folder is no reason not to start: the first sync says so, and the bot
    # answers from what is stored.
    try:
        asyncio.run(start_bot(settings))
    except discord.LoginFailure:
        log.error("Discord refused the token: put a valid bot token in DISCORD_TOKEN (.env)")
        return 1
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the intents; this bot needs no privileged ones")
        return 1
    except StorageError as exc:  # opening the database, or the first sync, failed
        log.error("%s", exc)
        return 1
    return 0
