"""Two bot processes, shards 0 and 1 of 2, on one database against one fake Discord.

Each answers its own server's commands and posts its own server's digest; one at a time
syncs the seeds folder, and when it dies the other takes over; SIGTERM stops a process
cleanly (exit 0, lease released).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.digest import Digest
from bot.store import Store
from bot.store.lease import SYNC_LEASE
from tests.conftest import write_article
from tests.fake_discord import FakeChannel, FakeDiscord, FakeGuild
from tests.test_digest_e2e import _posts
from tests.test_startup import DRIVER, bot_env

LEASE_SECONDS = 3
NEW_TITLE = "Sharding test: an article added while the first process is gone"
TAKEN = "now syncs the seeds folder and polls the feeds"


class BotProcess:
    """A `python -m bot run` subprocess whose stderr lines are collected as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, fake: FakeDiscord, env: dict[str, str], cwd: Path) -> BotProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", DRIVER, fake.api_base, fake.gateway_url, cwd=cwd, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.lines.append(line.decode())
            self._changed.set()
        self._changed.set()

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    async def wait_for(self, text: str, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while text not in self.stderr:
                assert not self._reader.done(), f"the bot ended before {text!r}: {self.stderr}"
                self._changed.clear()
                await self._changed.wait()

    async def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        async with asyncio.timeout(30):  # a guard against a hang, not a speed test
            code = await self.process.wait()
            await self._reader
        return code

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await self._reader


@pytest.fixture
async def processes() -> AsyncIterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for process in started:
        await process.kill()


def token(shard_id: int) -> str:
    """The token a shard's process logs in with (the fake accepts any)."""
    return "xy"[shard_id] * 60


def shard_env(tmp_path: Path, seeds: Path, shard_id: int) -> dict[str, str]:
    env = bot_env(tmp_path, seeds, NEWS_SHARD_COUNT="2", NEWS_SHARD_IDS=str(shard_id),
                  NEWS_LEASE_SECONDS=str(LEASE_SECONDS))
    env["DISCORD_TOKEN"] = token(shard_id)
    env["NEWS_SYNC_MINUTES"] = "60"  # on: a take-over syncs at once; no round of its own here
    return env


def world(fake: FakeDiscord) -> list[tuple[FakeGuild, FakeChannel]]:
    """A server on each shard of two, each with a channel for its digest."""
    found = []
    for shard_id in (0, 1):
        guild = fake.add_guild(f"Shard {shard_id}", shard=(shard_id, 2))
        found.append((guild, fake.add_channel(guild, f"digest-{shard_id}")))
    return found


async def due_digests(db: Path, servers: list[tuple[FakeGuild, FakeChannel]]) -> None:
    """A quiet-day digest per server, due a minute ago (so posted at start-up)."""
    due = (datetime.now(UTC) - timedelta(minutes=1)).time().replace(second=0, microsecond=0)
    async with await Store.open(db) as store:
        for guild, channel in servers:
            await store.digests.save(Digest(guild_id=guild.id, channel_id=channel.id,
                                            post_time=due, timezone="UTC", quiet_day=True))


async def answers(fake: FakeDiscord, guild: FakeGuild, command: str, options: dict[str, str]
                  ) -> dict:
    handle = await fake.slash(command, options, guild=guild)
    return (await handle.response(timeout=15)).json["data"]


async def lease_holder(db: Path) -> str | None:
    async with await Store.open(db) as store:
        lease = await store.leases.get(SYNC_LEASE)
    return lease.holder if lease else None


async def test_two_shard_processes_share_the_work_and_hand_the_sync_over(
    fake: FakeDiscord, tmp_path: Path, seeds_dir: Path, processes: list[BotProcess]
) -> None:
    fake.callback_deadline = None  # two processes starting on a slow CI box
    servers = world(fake)
    db = tmp_path / "news.db"
    await due_digests(db, servers)

    first = await BotProcess.start(fake, shard_env(tmp_path, seeds_dir, 0), tmp_path)
    processes.append(first)
    await first.wait_for(TAKEN)
    second = await BotProcess.start(fake, shard_env(tmp_path, seeds_dir, 1), tmp_path)
    processes.append(second)
    await second.wait_for("the seeds folder sync and feed polls are done by")
    await fake.wait_until_sharded(2, timeout=30)

    # Each process answers the commands of its own server (the fake sends them only there).
    for guild, _channel in servers:
        reply = await answers(fake, guild, "news topic", {"topic": "hardware"})
        assert reply["embeds"][0]["title"] == "Topic: AI Hardware"
    # Each server's digest is posted once, by the process of its shard (told apart by the
    # token each process logs in with).
    for shard_id, (_guild, channel) in enumerate(servers):
        post = await fake.wait_for_request("POST", rf"/channels/{channel.id}/messages",
                                           timeout=30)
        assert post.headers["Authorization"] == f"Bot {token(shard_id)}"

    # The holder dies without a word; the other takes the sync over and finds the new file.
    await first.kill()
    write_article(seeds_dir / "new.md", title=NEW_TITLE, originalUrl="https://example.com/new",
                  publishedDateTime="2026-12-01T10:00:00Z", topics=["AI"], excerpt="New.")
    await second.wait_for(TAKEN, timeout=4 * LEASE_SECONDS + 20)
    await second.wait_for("background sync: 1 added")
    reply = await answers(fake, servers[1][0], "news search", {"query": "sharding test"})
    assert NEW_TITLE in str(reply), reply

    # SIGTERM: a clean stop that frees the lease at once.
    holder = await lease_holder(db)
    assert holder is not None
    started = time.monotonic()
    assert await second.stop(signal.SIGTERM) == 0, second.stderr
    assert time.monotonic() - started < 30
    assert "released the lease on the folder sync and feed polls" in second.stderr
    assert await lease_holder(db) is None

    for _guild, channel in servers:
        assert len(_posts(fake, channel.id)) == 1
    for process in (first, second):
        assert "already handled elsewhere" not in process.stderr  # owners only tried
        assert "Traceback" not in process.stderr, process.stderr


async def test_sigterm_stops_a_process_with_exit_code_0_and_frees_the_lease(
    fake: FakeDiscord, tmp_path: Path, seeds_dir: Path, processes: list[BotProcess]
) -> None:
    fake.callback_deadline = None
    bot = await BotProcess.start(fake, bot_env(tmp_path, seeds_dir), tmp_path)
    processes.append(bot)
    await bot.wait_for(TAKEN)
    await bot.wait_for("has connected to Gateway")
    assert await lease_holder(tmp_path / "news.db") is not None
    assert await bot.stop(signal.SIGTERM) == 0, bot.stderr
    assert "released the lease" in bot.stderr
    assert await lease_holder(tmp_path / "news.db") is None
