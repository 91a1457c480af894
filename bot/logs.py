"""Logging for the bot and the CLI: stderr, one line per event, plain text or JSON lines."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.config import Settings

log = logging.getLogger(__name__)

# Control characters (but not tab and newline) and bidi overrides: in a logged file name
# or article title they could recolour or rewrite the operator's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_INDENT = "    "  # continuation lines (tracebacks) are indented: a new event never is
_LEVEL_COLOURS = {"DEBUG": "2", "INFO": "34", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}


def _escaped(text: str) -> str:
    """`text` with control characters shown as escapes (`\\x1b`) instead of acted on."""
    return _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`; a traceback follows on indented lines, and the first
    line names the exception so that it says what happened on its own."""

    def __init__(self, *, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        first, *rest = _escaped(record.getMessage()).split("\n")
        if record.exc_info and record.exc_info[1] is not None:
            first += f" [{_exception_summary(record.exc_info[1])}]"
            rest += self.formatException(record.exc_info).split("\n")
        if record.stack_info:
            rest += self.formatStack(record.stack_info).split("\n")
        head = f"{_timestamp(record)} {self._level(record.levelname)} {record.name}: {first}"
        return "\n".join([head, *(_INDENT + _escaped(line) for line in rest if line)])

    def _level(self, name: str) -> str:
        padded = f"{name:<8}"
        if not self.colour:
            return padded
        return f"\x1b[{_LEVEL_COLOURS.get(name, '0')}m{padded}\x1b[0m"


def _exception_summary(exc: BaseException) -> str:
    detail = str(exc).split("\n", 1)[0]
    name = type(exc).__qualname__
    return _escaped(f"{name}: {detail}" if detail else name)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        # ASCII only: every control character, C1 included, becomes a visible \u escape.
        return json.dumps(entry, ensure_ascii=True)


class _NoVoiceWarnings(logging.Filter):
    """Drops discord.py's start-up warnings that voice libraries (PyNaCl, davey) are missing.

    This bot never joins a voice channel, so they are not installed on purpose, and a
    warning at every start would teach operators to ignore warnings.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).endswith("is not installed, voice will NOT be supported")


_NO_VOICE_WARNINGS = _NoVoiceWarnings()


def wants_colour(stream: TextIO) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return (stream.isatty() and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb")


def setup_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every log record (and Python warning) to `stream` (default stderr), one per event.

    `bot.*` loggers log at settings.log_level, all others (discord.py, aiosqlite) at
    settings.library_log_level. Calling it again replaces the earlier set-up.
    """
    stream = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json"
                         else TextFormatter(colour=wants_colour(stream)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.library_log_level)
    logging.getLogger("bot").setLevel(settings.log_level)
    logging.getLogger("discord.client").addFilter(_NO_VOICE_WARNINGS)
    logging.captureWarnings(True)  # else a warning is a bare multi-line text in the stream
    log.debug("logging %s to %s: bot at %s, libraries at %s", settings.log_format,
              getattr(stream, "name", "a stream"), settings.log_level, settings.library_log_level)
