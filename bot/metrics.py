"""The bot's Prometheus metrics: every metric's definition, kept apart per bot."""

from __future__ import annotations

import time
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# Label values come from these fixed sets (and from the bot's own command names), never from
# what a user typed: every value is a time series Prometheus keeps.
COMMAND_OUTCOMES = ("ok", "user_error", "failure")
FEED_OUTCOMES = ("new", "not_modified", "failed", "gone")  # bot.feeds.listing.FeedOutcome
DIGEST_OUTCOMES = ("posted", "quiet_day", "empty", "skipped", "failed")
FOLLOW_OUTCOMES = ("posted", "failed")
SOURCE_KINDS = ("folder", "feed")  # the kinds of the sources table (migration 0006)
UNKNOWN_COMMAND = "unknown"  # an interaction for a command this bot does not have

# A `*_created` series beside every counter and histogram would double what each scrape
# carries, for a start time Prometheus does not use (this process is the only user).
disable_created_metrics()

# Discord drops an interaction unanswered after 3 s: nothing finer is needed above that.
# Few buckets: each is a series per command.
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 3.0)
SYNC_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def _commands_counter() -> Counter:
    return Counter("news_commands", "Slash commands answered, by command and outcome",
                   ["command", "outcome"], registry=None)


def _command_histogram() -> Histogram:
    return Histogram("news_command_seconds", "Time from receiving a slash command to its answer",
                     ["command"], buckets=COMMAND_BUCKETS, registry=None)


class CommandMetrics:
    """news_commands_total and news_command_seconds, each command's lines rendered again only
    after that command was counted since.

    They are most of a scrape (a histogram per command), and a command not used since the
    last scrape has nothing new to say. Each command has its own pair of prometheus_client
    metrics, so that generate_latest renders one command's lines alone; the two families'
    # HELP and # TYPE lines are written once above all of them, as the text format wants.
    """

    def __init__(self) -> None:
        self._headers = (generate_latest(_commands_counter()),
                         generate_latest(_command_histogram()))
        self._metrics: dict[str, tuple[Counter, Histogram]] = {}
        # Each (command, outcome)'s two series, found once: labels() costs more than the count.
        self._series: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._lines: dict[str, tuple[bytes, bytes]] = {}  # no entry: counted since rendered

    def done(self, command: str, outcome: str, seconds: float) -> None:
        """Count one answered command that took `seconds`."""
        series = self._series.get((command, outcome))
        if series is None:
            series = self._series[command, outcome] = self._add(command, outcome)
        series[0].inc()
        series[1].observe(seconds)
        self._lines.pop(command, None)

    def _add(self, command: str, outcome: str) -> tuple[Counter, Histogram]:
        metrics = self._metrics.get(command)
        if metrics is None:
            metrics = self._metrics[command] = (_commands_counter(), _command_histogram())
        return (metrics[0].labels(command=command, outcome=outcome),
                metrics[1].labels(command=command))

    def exposition(self) -> bytes:
        """Both families in the Prometheus text format."""
        counts, durations = [self._headers[0]], [self._headers[1]]
        for command, (counter, histogram) in self._metrics.items():
            lines = self._lines.get(command)
            if lines is None:
                lines = self._lines[command] = (
                    generate_latest(counter)[len(self._headers[0]):],
                    generate_latest(histogram)[len(self._headers[1]):])
            counts.append(lines[0])
            durations.append(lines[1])
        return b"".join(counts + durations)


class Metrics:
    """Every metric of one bot: the commands' apart, the others in a registry of their own
    (two bots never share a series)."""

    def __init__(self) -> None:
        self.commands = CommandMetrics()
        self.registry = CollectorRegistry()
        registry = self.registry
        self.articles = Gauge(
            "news_articles", "Articles in the corpus that a source of this kind gives "
            "(one given by both kinds counts in each)", ["kind"], registry=registry)
        self.sync_seconds = Histogram(
            "news_sync_seconds", "Duration of each sync of the seeds folder",
            buckets=SYNC_BUCKETS, registry=registry)
        self.last_sync = Gauge(
            "news_last_sync_timestamp_seconds",
            "Unix time of the last sync of the seeds folder that succeeded", registry=registry)
        self.sync_failures = Counter(
            "news_sync_failures", "Syncs of the seeds folder that failed or were refused",
            registry=registry)
        self.feed_polls = Counter(
            "news_feed_polls", "Feed polls, by outcome", ["outcome"], registry=registry)
        self.digests = Counter(
            "news_digests", "Scheduled digests, by outcome", ["outcome"], registry=registry)
        self.follow_posts = Counter(
            "news_follow_posts", "Posts for followed topics, by outcome", ["outcome"],
            registry=registry)
        self.gateway_latency = Gauge(
            "news_gateway_latency_seconds",
            "Gateway heartbeat round trip per shard (NaN until the first is answered)",
            ["shard"], registry=registry)
        self.guilds = Gauge(
            "news_guilds", "Servers per shard of this process", ["shard"], registry=registry)
        # Every fixed outcome is shown from the start, at 0: a rate needs a series to exist
        # before its first event, and an absent one reads as "not measured".
        for counter, outcomes in ((self.feed_polls, FEED_OUTCOMES),
                                  (self.digests, DIGEST_OUTCOMES),
                                  (self.follow_posts, FOLLOW_OUTCOMES)):
            for outcome in outcomes:
                counter.labels(outcome=outcome)
        for kind in SOURCE_KINDS:
            self.articles.labels(kind=kind)

    def command_done(self, command: str, outcome: str, started: float) -> None:
        """Count one answered command; `started` is its time.perf_counter() on arrival."""
        self.commands.done(command, outcome, time.perf_counter() - started)

    def sync_done(self, seconds: float, finished: datetime | None) -> None:
        """Record one sync of the folder: `finished` when it succeeded, None when it failed."""
        self.sync_seconds.observe(seconds)
        if finished is None:
            self.sync_failures.inc()
        else:
            self.last_sync.set(finished.timestamp())

    def feed_polled(self, outcomes: list[str]) -> None:
        """Count each feed's poll of one cycle by its outcome."""
        for outcome in outcomes:
            self.feed_polls.labels(outcome=outcome).inc()

    def digest_done(self, outcome: str) -> None:
        self.digests.labels(outcome=outcome).inc()

    def follow_posted(self, outcome: str) -> None:
        self.follow_posts.labels(outcome=outcome).inc()

    def set_articles(self, counts: dict[str, int]) -> None:
        for kind in SOURCE_KINDS:
            self.articles.labels(kind=kind).set(counts.get(kind, 0))

    def set_shard(self, shard: int, latency: float, guilds: int) -> None:
        self.gateway_latency.labels(shard=str(shard)).set(latency)
        self.guilds.labels(shard=str(shard)).set(guilds)

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry) + self.commands.exposition()
