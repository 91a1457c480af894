"""Settings from the environment and `.env`, read once at start-up, validated with clear errors."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from bot.articles import is_http_url
from bot.parse import DEFAULT_MAX_BYTES
from bot.yamlsafe import BACKENDS

DEFAULT_SEEDS_DIR = Path("seeds")
DEFAULT_DB_PATH = Path("data/news.db")
DEFAULT_FEEDS_FILE = Path("seeds/feeds.opml")
DEFAULT_FEED_MAX_BYTES = 10_000_000
DEFAULT_METRICS_HOST = "127.0.0.1"  # a metrics port is not for the internet unless asked
MAX_PORT = 65535
DEFAULT_LLM_TIMEOUT = 8.0
# An interaction's token, which the written answer is sent with, lasts 15 minutes.
MAX_LLM_TIMEOUT = 600.0
_FLAGS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}
LOG_FORMATS = ("text", "json")
_PORTAL_STEPS = "Discord Developer Portal → your application → Bot → Reset Token"


class ConfigError(ValueError):
    """A missing or malformed setting; the message says which one and how to fix it."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot can be told from outside. See `.env.example`."""

    token: str = field(default="", repr=False)
    seeds_dir: Path = DEFAULT_SEEDS_DIR
    db_path: Path = DEFAULT_DB_PATH
    owner_ids: frozenset[int] = frozenset()
    dev_guild_id: int | None = None
    log_level: str = "INFO"  # this bot's loggers (`bot.*`)
    library_log_level: str = "INFO"  # everything else: discord.py, aiosqlite, asyncio
    log_format: str = "text"  # or "json": one object per line, for log collectors
    sync_minutes: int = 10  # 0 turns the background re-sync off
    max_file_bytes: int = DEFAULT_MAX_BYTES
    yaml_parser: str = "auto"
    digest_grace_hours: int = 6  # a digest missed by less than this is posted late
    max_follows: int = 25  # follows per server
    feeds_file: Path | None = DEFAULT_FEEDS_FILE  # merged into the feed list; None: no file
    feeds_minutes: int = 15  # 0 turns the background polls off
    feed_max_bytes: int = DEFAULT_FEED_MAX_BYTES
    feeds_allow_private: bool = False  # fetch from loopback and private addresses (LAN, tests)
    feed_retention_days: int = 90  # 0 keeps feed articles forever
    metrics_port: int = 0  # /metrics and /healthz; 0: no server
    metrics_host: str = DEFAULT_METRICS_HOST
    shard_count: int | None = None  # None: discord.py's recommended count, all in this process
    shard_ids: tuple[int, ...] | None = None  # the shards this process connects; None: all
    lease_seconds: int = 60  # how long the folder sync and feed polls stay with one process
    llm_url: str = ""  # an OpenAI-compatible chat endpoint for written answers; "": off
    llm_key: str = field(default="", repr=False)  # sent as a Bearer token when set
    llm_model: str = ""  # "": the server's own model (llama.cpp serves the one it loaded)
    llm_timeout_seconds: float = DEFAULT_LLM_TIMEOUT


def _integer(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; set e.g. {name}={default}") \
            from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is too small; it must be at least {minimum}")
    return value


def _port(env: Mapping[str, str], name: str) -> int:
    port = _integer(env, name, 0, 0)
    if port > MAX_PORT:
        raise ConfigError(f"{name}={port} is not a TCP port; use one from 1 to {MAX_PORT}, "
                          f"or 0 (or nothing) to turn it off")
    return port


def _host(env: Mapping[str, str], name: str, default: str) -> str:
    host = env.get(name, "").strip() or default
    if any(char.isspace() or char in "/[]" for char in host):
        raise ConfigError(f"{name}={host!r} is not a host name or IP address; set e.g. "
                          f"{name}={default} (this machine only) or {name}=0.0.0.0 (every "
                          "interface)")
    return host


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip()
    if not raw:
        return False
    if raw.lower() not in _FLAGS:
        raise ConfigError(f"{name}={raw!r} is not 0 or 1; set {name}=1 to turn it on, "
                          f"{name}=0 (or nothing) to leave it off")
    return _FLAGS[raw.lower()]


def _seconds(env: Mapping[str, str], name: str, default: float, maximum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds; set e.g. "
                          f"{name}={default:g}") from None
    if not 0 < value <= maximum:
        raise ConfigError(f"{name}={raw} is out of range; it must be more than 0 and at most "
                          f"{maximum:g}")
    return value


def _llm_url(env: Mapping[str, str]) -> str:
    raw = env.get("NEWS_LLM_URL", "").strip()
    if raw and not is_http_url(raw):
        raise ConfigError(f"NEWS_LLM_URL={raw[:80]!r} is not an http(s) URL; set e.g. "
                          "NEWS_LLM_URL=http://127.0.0.1:8080 (a llama.cpp server), or leave "
                          "it empty to turn written answers off")
    return raw


def _llm_key(env: Mapping[str, str]) -> str:
    key = env.get("NEWS_LLM_KEY", "").strip()
    if any(char.isspace() for char in key):
        raise ConfigError("NEWS_LLM_KEY holds a space or line break; paste the key alone, "
                          "without 'Bearer' or quotes")
    return key


def _snowflake(raw: str, name: str) -> int:
    if not raw.isdigit() or not 15 <= len(raw) <= 21:
        raise ConfigError(
            f"{name}: {raw!r} is not a Discord id (a 17-20 digit number; enable Developer "
            "Mode in Discord, then right-click → Copy ID)"
        )
    return int(raw)


def _shard_ids(raw: str) -> tuple[int, ...]:
    """`0-3`, `4,5` or a mix (`0,2-3`) → the sorted shard ids; ConfigError on bad syntax."""
    ids: set[int] = set()
    for part in (piece.strip() for piece in raw.split(",")):
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not match:
            raise ConfigError(f"NEWS_SHARD_IDS={raw!r} is not a list of shard ids; write them "
                              "like 0-3 or 4,5 (whole numbers from 0, ranges with a dash)")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise ConfigError(f"NEWS_SHARD_IDS: the range {part!r} runs backwards; write the "
                              f"lower id first, like {last}-{first}")
        ids.update(range(first, last + 1))
    return tuple(sorted(ids))


def _shards(env: Mapping[str, str]) -> tuple[int | None, tuple[int, ...] | None]:
    """NEWS_SHARD_COUNT and NEWS_SHARD_IDS, checked against each other."""
    given = bool(env.get("NEWS_SHARD_COUNT", "").strip())
    count = _integer(env, "NEWS_SHARD_COUNT", 1, 1) if given else None
    raw_ids = env.get("NEWS_SHARD_IDS", "").strip()
    if not raw_ids:
        return count, None
    if count is None:
        raise ConfigError(f"NEWS_SHARD_IDS={raw_ids!r} needs NEWS_SHARD_COUNT: set it to the "
                          "number of shards all processes together connect")
    ids = _shard_ids(raw_ids)
    if ids[-1] >= count:
        raise ConfigError(f"NEWS_SHARD_IDS: shard {ids[-1]} does not exist with "
                          f"NEWS_SHARD_COUNT={count} (ids run from 0 to {count - 1}); raise "
                          "the count or drop the id")
    return count, ids


def _missing_token(environ: Mapping[str, str], dotenv: Path | None,
                   from_file: Mapping[str, str | None]) -> ConfigError:
    """Why no token was found, where it was looked for, and what to do about it."""
    if "DISCORD_TOKEN" in environ:
        return ConfigError(
            "DISCORD_TOKEN is set but empty in the environment, which wins over .env: unset it "
            f"or set it to your bot token ({_PORTAL_STEPS})"
        )
    if dotenv is not None and "DISCORD_TOKEN" in from_file:
        return ConfigError(f"DISCORD_TOKEN is empty in {dotenv}: put your bot token after "
                           f"DISCORD_TOKEN= in that file ({_PORTAL_STEPS})")
    if dotenv is not None:
        return ConfigError(f"DISCORD_TOKEN is not set: {dotenv} has no DISCORD_TOKEN line; add "
                           f"DISCORD_TOKEN=<your bot token> to it ({_PORTAL_STEPS})")
    return ConfigError("DISCORD_TOKEN is not set: copy .env.example to .env and put your bot "
                       f"token there ({_PORTAL_STEPS})")


def _level(env: Mapping[str, str], name: str, default: str) -> str:
    level = env.get(name, "").strip().upper() or default
    if level not in logging.getLevelNamesMapping():
        raise ConfigError(f"{name}={level!r} is unknown; use DEBUG, INFO, WARNING or ERROR")
    return level


def _library_level(env: Mapping[str, str], own_level: str) -> str:
    """Libraries log at INFO (or quieter, following NEWS_LOG_LEVEL) unless asked by name:
    at DEBUG they print every SQL statement and gateway message."""
    quieter = max(logging.INFO, logging.getLevelNamesMapping()[own_level])
    return _level(env, "NEWS_LOG_LEVEL_LIBRARIES", logging.getLevelName(quieter))


def load_settings(
    *, require_token: bool, env: Mapping[str, str] | None = None, dotenv_path: str = ".env"
) -> Settings:
    """Settings from `env` (default: `.env` under the real environment, which wins)."""
    dotenv: Path | None = None
    from_file: dict[str, str | None] = {}
    if env is None:
        if Path(dotenv_path).is_file():
            dotenv = Path(dotenv_path).absolute()
            from_file = dotenv_values(dotenv)
        env = {**{k: v for k, v in from_file.items() if v is not None}, **os.environ}
        environ: Mapping[str, str] = os.environ
    else:
        environ = env
    token = env.get("DISCORD_TOKEN", "").strip()
    if require_token and not token:
        raise _missing_token(environ, dotenv, from_file)
    if token and (" " in token or len(token) < 50):
        raise ConfigError("DISCORD_TOKEN does not look like a bot token; paste it again from "
                          "the Developer Portal (Bot → Reset Token)")
    owners = frozenset(
        _snowflake(part.strip(), "NEWS_OWNER_IDS")
        for part in env.get("NEWS_OWNER_IDS", "").split(",")
        if part.strip()
    )
    guild = env.get("NEWS_DEV_GUILD_ID", "").strip()
    level = _level(env, "NEWS_LOG_LEVEL", "INFO")
    log_format = env.get("NEWS_LOG_FORMAT", "").strip().lower() or "text"
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"NEWS_LOG_FORMAT={log_format!r} is unknown; use text or json")
    parser = env.get("NEWS_YAML_PARSER", "auto").strip().lower() or "auto"
    if parser not in ("auto", *BACKENDS):
        raise ConfigError(f"NEWS_YAML_PARSER={parser!r} is unknown; use auto, yaml-rs or pyyaml")
    shard_count, shard_ids = _shards(env)
    return Settings(
        token=token,
        seeds_dir=Path(env.get("NEWS_SEEDS_DIR", "").strip() or DEFAULT_SEEDS_DIR),
        db_path=Path(env.get("NEWS_DB_PATH", "").strip() or DEFAULT_DB_PATH),
        owner_ids=owners,
        dev_guild_id=_snowflake(guild, "NEWS_DEV_GUILD_ID") if guild else None,
        log_level=level,
        library_log_level=_library_level(env, level),
        log_format=log_format,
        sync_minutes=_integer(env, "NEWS_SYNC_MINUTES", 10, 0),
        max_file_bytes=_integer(env, "NEWS_MAX_FILE_BYTES", DEFAULT_MAX_BYTES, 1024),
        yaml_parser=parser,
        digest_grace_hours=_integer(env, "NEWS_DIGEST_GRACE_HOURS", 6, 0),
        max_follows=_integer(env, "NEWS_MAX_FOLLOWS", 25, 1),
        # Set but empty means "no file", unlike the other paths: unset takes the default.
        feeds_file=(Path(env["NEWS_FEEDS_FILE"].strip()) if env["NEWS_FEEDS_FILE"].strip()
                    else None) if "NEWS_FEEDS_FILE" in env else DEFAULT_FEEDS_FILE,
        feeds_minutes=_integer(env, "NEWS_FEEDS_MINUTES", 15, 0),
        feed_max_bytes=_integer(env, "NEWS_FEED_MAX_BYTES", DEFAULT_FEED_MAX_BYTES, 1024),
        feeds_allow_private=_flag(env, "NEWS_FEEDS_ALLOW_PRIVATE"),
        feed_retention_days=_integer(env, "NEWS_FEED_RETENTION_DAYS", 90, 0),
        metrics_port=_port(env, "NEWS_METRICS_PORT"),
        metrics_host=_host(env, "NEWS_METRICS_HOST", DEFAULT_METRICS_HOST),
        shard_count=shard_count,
        shard_ids=shard_ids,
        lease_seconds=_integer(env, "NEWS_LEASE_SECONDS", 60, 3),
        llm_url=_llm_url(env),
        llm_key=_llm_key(env),
        llm_model=env.get("NEWS_LLM_MODEL", "").strip(),
        llm_timeout_seconds=_seconds(env, "NEWS_LLM_TIMEOUT_SECONDS", DEFAULT_LLM_TIMEOUT,
                                     MAX_LLM_TIMEOUT),
    )
