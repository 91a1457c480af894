"""Log set-up and formats: real loggers and records, written to a real stream."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.logs import JsonFormatter, TextFormatter, setup_logging

TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """setup_logging changes process-wide state; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    own = logging.getLogger("bot").level
    discord_filters = list(logging.getLogger("discord.client").filters)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("bot").setLevel(own)
    logging.getLogger("discord.client").filters[:] = discord_filters
    logging.captureWarnings(False)


def record(message: str, *args: object, level: int = logging.ERROR, name: str = "bot.loader",
           exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if exc is not None:
        try:
            raise exc
        except BaseException:
            exc_info = sys.exc_info()
    return logging.getLogger(name).makeRecord(name, level, __file__, 1, message, args, exc_info)


def test_a_text_line_is_time_level_logger_and_message() -> None:
    line = TextFormatter().format(record("skipped %s", "a.txt", level=logging.WARNING))
    assert re.fullmatch(TIMESTAMP + r" WARNING  bot\.loader: skipped a\.txt", line)


def test_a_traceback_follows_a_first_line_that_names_the_exception() -> None:
    text = TextFormatter().format(record("could not load %s", "bot.cogs.news",
                                         exc=ValueError("bad config\nsecond line")))
    first, *rest = text.split("\n")
    assert first.endswith("bot.loader: could not load bot.cogs.news [ValueError: bad config]")
    assert rest[0] == "    Traceback (most recent call last):"
    assert rest[-2:] == ["    ValueError: bad config", "    second line"]
    assert all(line.startswith("    ") for line in rest)


def test_control_characters_in_a_message_are_shown_not_obeyed() -> None:
    text = TextFormatter().format(record("skipped %s", "evil\x1b[2J\u202e.txt\nnext line"))
    assert "\x1b" not in text and "\u202e" not in text
    assert text.split("\n")[0].endswith(r"skipped evil\x1b[2J\u202e.txt")
    assert text.split("\n")[1] == "    next line"


def test_text_is_coloured_only_when_asked() -> None:
    assert "\x1b[" not in TextFormatter().format(record("x"))
    assert "\x1b[31mERROR" in TextFormatter(colour=True).format(record("x"))


def test_a_json_line_has_time_level_logger_message_and_the_traceback() -> None:
    line = JsonFormatter().format(record("sync failed for %s", "a\nb", exc=OSError("disk")))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "bot.loader"
    assert entry["message"] == "sync failed for a\nb"
    assert entry["exc_info"].startswith("Traceback (most recent call last):")
    assert entry["exc_info"].endswith("OSError: disk")
    assert datetime.fromisoformat(entry["time"]).utcoffset() == UTC.utcoffset(None)


def test_a_json_line_without_an_exception_has_no_exc_info() -> None:
    entry = json.loads(JsonFormatter().format(record("ok", level=logging.INFO)))
    assert set(entry) == {"time", "level", "logger", "message"}


def test_debug_is_for_the_bot_and_libraries_stay_at_info(restore_logging: None) -> None:
    stream = io.StringIO()
    setup_logging(Settings(log_level="DEBUG"), stream)
    logging.getLogger("bot.store").debug("opened %s", "news.db")
    logging.getLogger("aiosqlite").debug("executing %s", "SELECT 1")
    logging.getLogger("discord.gateway").debug("gateway chatter")
    logging.getLogger("discord.gateway").info("connected")
    out = stream.getvalue()
    assert "bot.store: opened news.db" in out
    assert "executing" not in out and "chatter" not in out
    assert "discord.gateway: connected" in out


def test_libraries_can_be_asked_for_debug(restore_logging: None) -> None:
    stream = io.StringIO()
    setup_logging(Settings(log_level="INFO", library_log_level="DEBUG"), stream)
    logging.getLogger("aiosqlite").debug("executing %s", "SELECT 1")
    logging.getLogger("bot.store").debug("opened")
    assert "aiosqlite: executing SELECT 1" in stream.getvalue()
    assert "opened" not in stream.getvalue()


def test_the_missing_voice_library_warnings_are_dropped_but_not_others(
    restore_logging: None,
) -> None:
    stream = io.StringIO()
    setup_logging(Settings(), stream)
    client = logging.getLogger("discord.client")
    client.warning("PyNaCl is not installed, voice will NOT be supported")
    client.warning("davey is not installed, voice will NOT be supported")
    client.warning("Application has an interaction endpoint URL set")
    assert "voice" not in stream.getvalue()
    assert "interaction endpoint URL" in stream.getvalue()


def test_json_format_and_python_warnings_become_json_lines(restore_logging: None) -> None:
    stream = io.StringIO()
    setup_logging(Settings(log_format="json", log_level="WARNING"), stream)
    logging.getLogger("bot.client").warning("cannot reach Discord")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("unclosed thing", UserWarning, stacklevel=1)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["logger"] for e in entries] == ["bot.client", "py.warnings"]
    assert "UserWarning: unclosed thing" in entries[1]["message"]
