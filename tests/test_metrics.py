"""Metrics and health end to end: the real bot against the fake Discord, scraped over real HTTP
on 127.0.0.1 as Prometheus and a container health check would."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from feed_server import FeedServer
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.client import NewsBot
from bot.cogs.digest import DigestCog
from bot.config import ConfigError, load_settings
from bot.metrics import COMMAND_BUCKETS, CommandMetrics
from bot.store import Store
from tests.conftest import make_bot
from tests.fake_discord import FakeDiscord, running_bot
from tests.test_cli import assert_clean_failure, run_cli
from tests.test_digest_e2e import BERLIN_8AM, Clock

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serving_bot(store: Store, seeds: Path, port: int, clock: Any = None) -> NewsBot:
    bot = make_bot(store, seeds, clock)
    bot.settings = dataclasses.replace(bot.settings, metrics_port=port)
    return bot


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
async def bot(fake: FakeDiscord, store: Store, seeds_dir: Path, port: int
              ) -> AsyncIterator[NewsBot]:
    async with running_bot(serving_bot(store, seeds_dir, port), fake) as running:
        yield running


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.text()


async def scrape(port: int) -> Samples:
    """Every sample of /metrics, parsed as Prometheus parses the text format."""
    status, text = await get(port, "/metrics")
    assert status == 200
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    status, text = await get(port, "/healthz")
    return status, json.loads(text)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.05)


async def answered(fake: FakeDiscord, name: str, options: dict[str, Any] | None = None,
                   **kwargs: Any) -> dict[str, Any]:
    handle = await fake.slash(name, options, **kwargs)
    reply = await handle.response()
    return reply.json.get("data", reply.json)


def listening_sockets() -> set[int]:
    """Inodes of the TCP sockets this process listens on (from /proc, as `ss -l` reads it)."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            mine.add(int(target[8:-1]))
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[9]) in mine:  # 0A: LISTEN
                    listening.add(int(fields[9]))
    return listening


# ---- /metrics ------------------------------------------------------------------------------


async def test_commands_are_counted_by_name_and_outcome_with_their_durations(
    fake: FakeDiscord, bot: NewsBot, port: int
) -> None:
    assert (await answered(fake, "news latest", {"count": 3}))["embeds"][0]["title"] \
        == "Latest AI news"
    await answered(fake, "news latest", {"count": 1})
    unknown = await answered(fake, "news topic", {"topic": "quantum knitting"})
    assert unknown["embeds"][0]["title"] == "No topic matches 'quantum knitting'."
    refused = await answered(fake, "admin stats", user=fake.admin)
    assert "Only the bot's operator" in refused["embeds"][0]["title"]
    # Autocomplete runs at every keystroke: it is not a command answered.
    await (await fake.autocomplete("news topic", "topic", {"topic": "hard"})
           ).autocomplete_choices()

    samples = await scrape(port)
    assert value(samples, "news_commands_total", command="news latest", outcome="ok") == 2
    assert value(samples, "news_commands_total", command="news topic",
                 outcome="user_error") == 1
    assert value(samples, "news_commands_total", command="admin stats",
                 outcome="user_error") == 1
    assert ("news_commands_total", frozenset({("command", "news topic"), ("outcome", "ok")})) \
        not in samples
    assert value(samples, "news_command_seconds_count", command="news latest") == 2
    assert value(samples, "news_command_seconds_bucket", command="news latest", le="+Inf") == 2
    assert value(samples, "news_command_seconds_bucket", command="news latest", le="3.0") == 2
    assert 0 < value(samples, "news_command_seconds_sum", command="news latest") < 10
    # The seeds folder gives all 15 seed articles; no feed has been read.
    assert value(samples, "news_articles", kind="folder") == 15
    assert value(samples, "news_articles", kind="feed") == 0
    assert value(samples, "news_guilds", shard="0") == 1
    assert "news_gateway_latency_seconds" in {name for name, _labels in samples}


async def test_each_scrape_has_the_counts_of_its_moment_in_valid_text(
    fake: FakeDiscord, bot: NewsBot, port: int
) -> None:
    await answered(fake, "news latest", {"count": 1})
    await answered(fake, "news topic", {"topic": "quantum knitting"})
    first = await scrape(port)
    # Only "news topic" is used again: "news latest"'s lines are kept, its own are not.
    await answered(fake, "news topic", {"topic": "hardware"})
    await answered(fake, "news topic", {"topic": "quantum knitting"})
    status, text = await get(port, "/metrics")
    assert status == 200
    # Prometheus refuses a second # TYPE line for a name, or a family split in two groups.
    families = [family.name for family in text_string_to_metric_families(text)]
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(families) == len(set(families)) == len(types) == len(set(types))
    assert {"news_commands", "news_command_seconds", "news_articles"} <= set(families)
    again = await scrape(port)
    for samples, topic_ok, topic_unknown in ((first, None, 1), (again, 1, 2)):
        assert value(samples, "news_commands_total", command="news latest", outcome="ok") == 1
        assert value(samples, "news_command_seconds_count", command="news latest") == 1
        assert value(samples, "news_command_seconds_count", command="news topic") \
            == (topic_ok or 0) + topic_unknown
        assert value(samples, "news_commands_total", command="news topic",
                     outcome="user_error") == topic_unknown
        assert samples.get(("news_commands_total", frozenset(
            {("command", "news topic"), ("outcome", "ok")}))) == topic_ok
    assert value(again, "news_command_seconds_sum", command="news topic") \
        > value(first, "news_command_seconds_sum", command="news topic")


def test_command_lines_are_the_ones_prometheus_client_writes_after_every_count() -> None:
    commands = CommandMetrics()
    registry = CollectorRegistry()  # the same counts, kept and written by the library alone
    counter = Counter("news_commands", "Slash commands answered, by command and outcome",
                      ["command", "outcome"], registry=registry)
    histogram = Histogram("news_command_seconds",
                          "Time from receiving a slash command to its answer", ["command"],
                          buckets=COMMAND_BUCKETS, registry=registry)
    odd = 'news "odd" \\ name'  # escaped by the library, whatever our command names are
    for command, outcome, seconds in (
            ("news latest", "ok", 0.004), (odd, "failure", 2.5), ("news latest", "ok", 0.3),
            ("news latest", "user_error", 7.0), (odd, "failure", 0.01), ("news topic", "ok", 0.05)):
        commands.done(command, outcome, seconds)
        counter.labels(command=command, outcome=outcome).inc()
        histogram.labels(command=command).observe(seconds)
        # The same lines (a family's series grouped by command rather than by first use).
        assert sorted(commands.exposition().splitlines()) \
            == sorted(generate_latest(registry).splitlines())




async def test_a_failing_command_counts_as_a_failure_and_health_names_the_database(
    fake: FakeDiscord, bot: NewsBot, store: Store, port: int
) -> None:
    assert (await healthz(port))[0] == 200
    assert value(await scrape(port), "news_articles", kind="folder") == 15
    await store.close()  # as a database that went away under the bot
    reply = await answered(fake, "news latest", {"count": 1})
    assert "went wrong" in reply["embeds"][0]["title"] \
        or "database is not available" in reply["embeds"][0]["title"]

    samples = await scrape(port)  # still answers, with what it last counted
    assert value(samples, "news_commands_total", command="news latest", outcome="failure") == 1
    assert value(samples, "news_articles", kind="folder") == 15
    status, body = await healthz(port)
    assert status == 503
    assert body["status"] == "unavailable" and body["shards"] == {"0": "connected"}
    assert body["store"].startswith("cannot read")
    assert body["reasons"] == [f"database {store.path}: {body['store']}"]


async def test_folder_syncs_are_timed_and_a_refused_one_is_a_failure(
    fake: FakeDiscord, bot: NewsBot, seeds_dir: Path, port: int
) -> None:
    before = datetime.now(UTC).timestamp()
    samples = await scrape(port)
    assert value(samples, "news_sync_seconds_count") == 1  # the first sync, at start-up
    assert value(samples, "news_sync_failures_total") == 0
    first = value(samples, "news_last_sync_timestamp_seconds")
    assert 0 < first <= before

    reload = await fake.slash("admin reload", user=fake.owner)
    await reload.followup()
    samples = await scrape(port)
    assert value(samples, "news_sync_seconds_count") == 2
    assert value(samples, "news_last_sync_timestamp_seconds") >= before

    shutil.rmtree(seeds_dir)
    refused = await fake.slash("admin reload", user=fake.owner)
    assert (await refused.followup()).json["embeds"][0]["title"] \
        == "Not reloaded: the stored articles stay"
    samples = await scrape(port)
    assert value(samples, "news_sync_seconds_count") == 3
    assert value(samples, "news_sync_failures_total") == 1
    assert value(samples, "news_last_sync_timestamp_seconds") < datetime.now(UTC).timestamp()


async def test_start_up_syncs_the_folder_once_and_the_background_sync_waits_its_interval(
    fake: FakeDiscord, store: Store, seeds_dir: Path, port: int
) -> None:
    bot = serving_bot(store, seeds_dir, port)
    bot.settings = dataclasses.replace(bot.settings, sync_minutes=10)
    async with running_bot(bot, fake):
        cog: Any = bot.get_cog("AdminCog")
        assert cog.resync.is_running()
        await asyncio.sleep(1)  # a round started at once would have synced by now
        samples = await scrape(port)
    assert value(samples, "news_sync_seconds_count") == 1


async def test_a_refused_start_up_sync_is_tried_again_at_once_by_the_background_sync(
    fake: FakeDiscord, store: Store, seeds_dir: Path, port: int
) -> None:
    shutil.rmtree(seeds_dir)  # a folder not mounted yet: start-up's sync is refused
    bot = serving_bot(store, seeds_dir, port)
    bot.settings = dataclasses.replace(bot.settings, sync_minutes=10)
    async with running_bot(bot, fake):
        async with asyncio.timeout(10):
            while value(await scrape(port), "news_sync_seconds_count") < 2:
                await asyncio.sleep(0.05)
        samples = await scrape(port)
    assert value(samples, "news_sync_failures_total") == 2


async def test_digests_are_counted_by_outcome(
    fake: FakeDiscord, store: Store, seeds_dir: Path, port: int
) -> None:
    clock = Clock(datetime(2022, 5, 27, 5, 0, tzinfo=UTC))
    async with running_bot(serving_bot(store, seeds_dir, port, clock), fake) as bot:
        for channel in (fake.text_channel, fake.forbidden_channel):
            handle = await fake.slash("digest set", {
                "channel": channel, "time": "08:00", "timezone": "Europe/Berlin",
                "topics": "hardware"}, user=fake.admin)
            await handle.response()
        samples = await scrape(port)
        assert value(samples, "news_digests_total", outcome="posted") == 0  # shown from the start
        clock.now = BERLIN_8AM.replace(second=5)
        cog = bot.get_cog("DigestCog")
        assert cog is not None and type(cog).__name__ == DigestCog.__name__
        await cog.run_due()  # type: ignore[attr-defined]
        samples = await scrape(port)
    assert value(samples, "news_digests_total", outcome="posted") == 1
    assert value(samples, "news_digests_total", outcome="failed") == 1  # the locked channel
    assert value(samples, "news_digests_total", outcome="empty") == 0


async def test_feed_polls_are_counted_by_outcome_and_their_articles_by_kind(
    fake: FakeDiscord, store: Store, seeds_dir: Path, port: int
) -> None:
    from tests.test_feeds_e2e import RECENT, RSS

    async with FeedServer() as server:
        server.add("/ai.xml", RSS.format(date=RECENT))
        server.add("/down.xml", "down", status=503)
        await store.feeds.add(server.url("/ai.xml"))
        await store.feeds.add(server.url("/down.xml"))
        bot = serving_bot(store, seeds_dir, port)
        bot.settings = dataclasses.replace(bot.settings, feeds_minutes=60,
                                           feeds_allow_private=True)
        async with running_bot(bot, fake):
            async def polled() -> bool:
                samples = await scrape(port)
                return value(samples, "news_feed_polls_total", outcome="failed") == 1

            await until(polled)
            samples = await scrape(port)
    assert value(samples, "news_feed_polls_total", outcome="new") == 1
    assert value(samples, "news_feed_polls_total", outcome="not_modified") == 0
    assert value(samples, "news_articles", kind="feed") == 1
    assert value(samples, "news_articles", kind="folder") == 15


async def test_two_bots_in_one_process_count_apart(
    fake: FakeDiscord, bot: NewsBot, store: Store, seeds_dir: Path, port: int
) -> None:
    await answered(fake, "news latest", {"count": 1})
    other = serving_bot(store, seeds_dir, free_port())
    assert other.metrics.registry is not bot.metrics.registry
    samples = await scrape(port)
    assert value(samples, "news_commands_total", command="news latest", outcome="ok") == 1
    assert b"news_commands_total{" not in other.metrics.exposition()


# ---- /healthz ------------------------------------------------------------------------------


async def test_health_is_ok_when_connected_and_503_while_discord_is_unreachable(
    fake: FakeDiscord, bot: NewsBot, port: int
) -> None:
    status, body = await healthz(port)
    assert status == 200
    assert body == {"status": "ok", "shards": {"0": "connected"}, "store": "ok", "guilds": 1,
                    "reasons": []}

    await fake.drop_gateway()

    async def down() -> bool:
        return (await healthz(port))[0] == 503

    await until(down)
    status, body = await healthz(port)
    assert body["status"] == "unavailable" and body["shards"] == {"0": "disconnected"}
    assert "shard 0 is disconnected" in body["reasons"]
    assert body["store"] == "ok"

    fake.gateway_refused = False  # Discord is back: discord.py reconnects by itself

    async def up() -> bool:
        return (await healthz(port))[0] == 200

    await until(up, 30.0)
    assert (await answered(fake, "news latest", {"count": 1}))["embeds"][0]["title"] \
        == "Latest AI news"


# ---- the server itself ---------------------------------------------------------------------


async def test_no_server_by_default(
    fake: FakeDiscord, store: Store, seeds_dir: Path, port: int
) -> None:
    assert load_settings(require_token=False, env={}).metrics_port == 0
    before = listening_sockets()
    async with running_bot(make_bot(store, seeds_dir), fake):
        assert listening_sockets() == before
    # The same check sees the server when it is asked for.
    async with running_bot(serving_bot(store, seeds_dir, port), fake):
        assert len(listening_sockets() - before) == 1
        assert (await healthz(port))[0] == 200


async def test_a_port_in_use_is_one_error_line_and_the_bot_still_answers(
    fake: FakeDiscord, store: Store, seeds_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="bot"):
            async with running_bot(serving_bot(store, seeds_dir, port), fake):
                reply = await answered(fake, "news latest", {"count": 1})
    assert reply["embeds"][0]["title"] == "Latest AI news"
    (record,) = [r for r in caplog.records if r.name == "bot.service"]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith(
        f"NEWS_METRICS_PORT={port}: cannot listen on 127.0.0.1:{port} (")
    assert record.getMessage().endswith(
        "running without /metrics and /healthz: free that port or set NEWS_METRICS_PORT "
        "(and NEWS_METRICS_HOST) to a free one")


# ---- settings ------------------------------------------------------------------------------


def test_metrics_settings_are_read_and_checked() -> None:
    settings = load_settings(require_token=False, env={"NEWS_METRICS_PORT": "9108",
                                                       "NEWS_METRICS_HOST": " ::1 "})
    assert (settings.metrics_port, settings.metrics_host) == (9108, "::1")
    assert load_settings(require_token=False, env={"NEWS_METRICS_PORT": "0"}).metrics_port == 0
    assert load_settings(require_token=False, env={}).metrics_host == "127.0.0.1"
    with pytest.raises(ConfigError, match=r"^NEWS_METRICS_PORT='nine' is not a whole number"):
        load_settings(require_token=False, env={"NEWS_METRICS_PORT": "nine"})
    with pytest.raises(ConfigError, match=r"^NEWS_METRICS_HOST='local host' is not a host"):
        load_settings(require_token=False, env={"NEWS_METRICS_HOST": "local host"})


def test_a_port_out_of_range_stops_the_bot_with_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path, extra_env={"DISCORD_TOKEN": "x" * 60,
                                                     "NEWS_METRICS_PORT": "70000"})
    assert_clean_failure(result, 2)
    assert result.stderr == ("error: NEWS_METRICS_PORT=70000 is not a TCP port; use one from 1 "
                             "to 65535, or 0 (or nothing) to turn it off\n")
