"""Start-up as the operator sees it: token messages, log lines on stderr, waiting for Discord."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pty
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.client import Backoff, start_bot
from bot.config import Settings
from tests.conftest import AMD_TITLE, ROOT, SEEDS
from tests.fake_discord import FakeDiscord, patch_discord_urls
from tests.test_cli import assert_clean_failure, run_cli

TOKEN = "x" * 60  # shaped like a token; the fake accepts any
LINE_START = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 [A-Z]+ +[\w.]+: ")
# `python -m bot run`, with discord.py pointed at a fake on 127.0.0.1 (as bench/run.py does).
DRIVER = """
import sys, yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route
Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = sys.argv[1], yarl.URL(sys.argv[2])
from bot.__main__ import main
sys.exit(main(["run"]))
"""


# --------------------------------------------------------------------------- the token


def test_an_empty_token_in_an_existing_dotenv_names_the_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=\nNEWS_SYNC_MINUTES=0\n", encoding="utf-8")
    result = run_cli("run", cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert result.stderr.startswith(
        f"error: DISCORD_TOKEN is empty in {tmp_path / '.env'}: put your bot token after "
        "DISCORD_TOKEN= in that file (Discord Developer Portal")
    assert "copy .env.example" not in result.stderr


def test_no_dotenv_and_no_token_says_to_copy_the_example(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path)
    assert_clean_failure(result, 2)
    assert result.stderr.startswith(
        "error: DISCORD_TOKEN is not set: copy .env.example to .env and put your bot token there")


def test_an_empty_token_in_the_environment_says_so(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\n", encoding="utf-8")
    result = run_cli("run", cwd=tmp_path, extra_env={"DISCORD_TOKEN": ""})
    assert_clean_failure(result, 2)
    assert result.stderr.startswith(
        "error: DISCORD_TOKEN is set but empty in the environment, which wins over .env")


# --------------------------------------------------------------------------- log lines


def bot_env(tmp_path: Path, seeds: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NEWS_", "DISCORD_")) and key != "NO_COLOR"}
    env.update(PYTHONPATH=str(ROOT), DISCORD_TOKEN=TOKEN, NEWS_SEEDS_DIR=str(seeds),
               NEWS_DB_PATH=str(tmp_path / "news.db"), NEWS_SYNC_MINUTES="0",
               NEWS_FEEDS_FILE="", NEWS_FEEDS_MINUTES="0", **settings)
    return env


async def run_until(fake: FakeDiscord, env: dict[str, str], cwd: Path, marker: str) -> str:
    """Start the bot process against `fake`, SIGTERM it once stderr shows `marker`, and
    return all of its stderr; it must exit with 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DRIVER, fake.api_base, fake.gateway_url,
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(30):
            while marker not in "".join(seen):
                line = await process.stderr.readline()
                assert line, f"the bot ended before logging {marker!r}: {''.join(seen)}"
                seen.append(line.decode())
            process.send_signal(signal.SIGTERM)
            rest, _ = await asyncio.gather(process.stderr.read(), process.wait())
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = "".join(seen) + rest.decode()
    assert process.returncode == 0, stderr
    return stderr


@pytest.fixture
def silent_fake(fake: FakeDiscord) -> FakeDiscord:
    fake.callback_deadline = None  # nothing is asked of the bot; a slow CI box is fine
    return fake


async def test_start_up_logs_are_plain_lines_without_colours_or_voice_warnings(
    silent_fake: FakeDiscord, tmp_path: Path, seeds_dir: Path
) -> None:
    stderr = await run_until(silent_fake, bot_env(tmp_path, seeds_dir), tmp_path,
                             "has connected to Gateway")
    assert "\x1b[" not in stderr
    assert "voice will NOT be supported" not in stderr
    lines = stderr.splitlines()
    assert all(LINE_START.match(line) or line.startswith("    ") for line in lines), stderr
    assert any(re.search(r" INFO +bot\.client: first sync: 2 added", line) for line in lines)
    assert TOKEN not in stderr


async def test_json_logs_are_one_object_per_line(
    silent_fake: FakeDiscord, tmp_path: Path, seeds_dir: Path
) -> None:
    env = bot_env(tmp_path, seeds_dir, NEWS_LOG_FORMAT="json")
    stderr = await run_until(silent_fake, env, tmp_path, "has connected to Gateway")
    entries = [json.loads(line) for line in stderr.splitlines()]
    assert all(set(entry) >= {"time", "level", "logger", "message"} for entry in entries)
    assert any(entry["logger"] == "bot.client" and entry["level"] == "INFO"
               and entry["message"].startswith("first sync: ") for entry in entries)
    assert all(entry["time"].endswith("+00:00") for entry in entries)


async def test_debug_shows_the_bots_lines_but_not_every_sql_statement(
    silent_fake: FakeDiscord, tmp_path: Path, seeds_dir: Path
) -> None:
    env = bot_env(tmp_path, seeds_dir, NEWS_LOG_LEVEL="DEBUG")
    stderr = await run_until(silent_fake, env, tmp_path, "has connected to Gateway")
    assert re.search(r" DEBUG +bot\.client: starting with Settings\(", stderr)
    assert not re.search(r" DEBUG +(aiosqlite|discord)", stderr)
    assert TOKEN not in stderr


def test_the_command_line_logs_the_same_way(tmp_path: Path, seeds_dir: Path) -> None:
    result = run_cli("load", "--seeds", seeds_dir, "--db", tmp_path / "news.db", cwd=tmp_path,
                     extra_env={"NEWS_LOG_FORMAT": "json", "NEWS_LOG_LEVEL": "DEBUG"})
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert [entry["logger"] for entry in entries] == ["bot.logs"]
    assert entries[0]["message"].startswith("logging json to <stderr>: bot at DEBUG")


def stderr_on_a_terminal(tmp_path: Path, extra_env: dict[str, str]) -> str:
    """Stderr of a `run` that fails at once (its database path is a folder), written to a
    pseudo-terminal."""
    env = bot_env(tmp_path, SEEDS, TERM="xterm", **extra_env)
    env["NEWS_DB_PATH"] = str(tmp_path)
    main, terminal = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=terminal,
            timeout=60, check=False,
        )
        os.close(terminal)
        terminal = -1
        chunks = []
        with contextlib.suppress(OSError):  # EIO: the terminal's last writer has gone
            while chunk := os.read(main, 4096):
                chunks.append(chunk)
    finally:
        os.close(main)
        if terminal != -1:
            os.close(terminal)
    return b"".join(chunks).decode()


def test_a_terminal_gets_colours_unless_no_color_is_set(tmp_path: Path) -> None:
    coloured = stderr_on_a_terminal(tmp_path, {})
    assert "\x1b[31mERROR" in coloured and "is a folder" in coloured
    plain = stderr_on_a_terminal(tmp_path, {"NO_COLOR": "1"})
    assert "is a folder" in plain and "\x1b[" not in plain


# --------------------------------------------------------------------------- no network


class Watcher(logging.Handler):
    """Collects this bot's log messages and lets a test wait for one."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []
        self.changed = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.changed.set()

    def count(self, start: str) -> int:
        return sum(message.startswith(start) for message in self.messages)

    async def wait_for(self, start: str, task: asyncio.Task[None], times: int = 1) -> None:
        """Until `times` messages begin with `start`; fails at once if the bot ends first."""
        task.add_done_callback(lambda _: self.changed.set())
        async with asyncio.timeout(30):
            while self.count(start) < times:
                if task.done():
                    task.result()
                    raise AssertionError(f"the bot stopped before logging {start!r}")
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def watcher() -> Iterator[Watcher]:
    logger = logging.getLogger("bot")
    handler, level = Watcher(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def bot_task(settings: Settings, fake: FakeDiscord, backoff: Backoff
                   ) -> AsyncIterator[asyncio.Task[None]]:
    with patch_discord_urls(fake):
        task = asyncio.create_task(start_bot(settings, backoff=backoff))
        try:
            yield task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def test_the_bot_waits_for_discord_then_logs_in_and_answers(
    tmp_path: Path, seeds_dir: Path, watcher: Watcher
) -> None:
    port = free_port()
    fake = FakeDiscord(port=port)
    settings = Settings(token=TOKEN, seeds_dir=seeds_dir, db_path=tmp_path / "news.db",
                        sync_minutes=0, feeds_file=None, feeds_minutes=0)
    async with bot_task(settings, fake, Backoff(first=0.05, cap=0.2)) as task:
        await watcher.wait_for("cannot reach Discord", task, times=2)
        first = next(m for m in watcher.messages if m.startswith("cannot reach Discord"))
        assert first.startswith(f"cannot reach Discord (Cannot connect to host 127.0.0.1:{port}")
        assert re.search(r"; trying again in \d+\.\d s$", first)
        assert watcher.count("first sync") == 0

        async with fake:
            await fake.wait_until_connected(timeout=30)
            handle = await fake.slash("news topic", {"topic": "hardware"})
            answer = (await handle.response()).json["data"]["embeds"][0]
            assert answer["title"] == "Topic: AI Hardware"
            assert AMD_TITLE in answer["description"]
            os.kill(os.getpid(), signal.SIGTERM)
            async with asyncio.timeout(30):
                await task
        assert [(r.method, r.path) for r in fake.unhandled] == []
    # The store and the first sync were done once, not once per attempt.
    assert watcher.count("first sync: 2 added") == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_during_the_wait_for_discord_stops_the_bot(
    tmp_path: Path, seeds_dir: Path, watcher: Watcher, signum: int
) -> None:
    settings = Settings(token=TOKEN, seeds_dir=seeds_dir, db_path=tmp_path / "news.db",
                        sync_minutes=0, feeds_file=None, feeds_minutes=0)
    fake = FakeDiscord(port=free_port())  # never started: every attempt is refused
    async with bot_task(settings, fake, Backoff(first=3600, cap=3600)) as task:
        await watcher.wait_for("cannot reach Discord", task)
        os.kill(os.getpid(), signum)
        async with asyncio.timeout(30):  # a guard: the wait is an hour
            await task
    assert watcher.count("cannot reach Discord") == 1
