"""Settings from the environment and `.env`, read once at start-up, validated with clear errors."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from bot.parse import DEFAULT_MAX_BYTES
from bot.yamlsafe import BACKENDS

DEFAULT_SEEDS_DIR = Path("seeds")
DEFAULT_DB_PATH = Path("data/news.db")


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
    log_level: str = "INFO"
    sync_minutes: int = 10  # 0 turns the background re-sync off
    max_file_bytes: int = DEFAULT_MAX_BYTES
    yaml_parser: str = "auto"
    digest_grace_hours: int = 6  # a digest missed by less than this is posted late


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


def _snowflake(raw: str, name: str) -> int:
    if not raw.isdigit() or not 15 <= len(raw) <= 21:
        raise ConfigError(
            f"{name}: {raw!r} is not a Discord id (a 17-20 digit number; enable Developer "
            "Mode in Discord, then right-click → Copy ID)"
        )
    return int(raw)


def load_settings(
    *, require_token: bool, env: Mapping[str, str] | None = None, dotenv_path: str = ".env"
) -> Settings:
    """Settings from `env` (default: `.env` under the real environment, which wins)."""
    if env is None:
        env = {
            **{k: v for k, v in dotenv_values(dotenv_path).items() if v is not None},
            **os.environ,
        }
    token = env.get("DISCORD_TOKEN", "").strip()
    if require_token and not token:
        raise ConfigError(
            "DISCORD_TOKEN is not set: copy .env.example to .env and put your bot token there "
            "(Discord Developer Portal → your application → Bot → Reset Token)"
        )
    if token and (" " in token or len(token) < 50):
        raise ConfigError("DISCORD_TOKEN does not look like a bot token; paste it again from "
                          "the Developer Portal (Bot → Reset Token)")
    owners = frozenset(
        _snowflake(part.strip(), "NEWS_OWNER_IDS")
        for part in env.get("NEWS_OWNER_IDS", "").split(",")
        if part.strip()
    )
    guild = env.get("NEWS_DEV_GUILD_ID", "").strip()
    level = env.get("NEWS_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in logging.getLevelNamesMapping():
        raise ConfigError(f"NEWS_LOG_LEVEL={level!r} is unknown; use DEBUG, INFO, WARNING or ERROR")
    parser = env.get("NEWS_YAML_PARSER", "auto").strip().lower() or "auto"
    if parser not in ("auto", *BACKENDS):
        raise ConfigError(f"NEWS_YAML_PARSER={parser!r} is unknown; use auto, yaml-rs or pyyaml")
    return Settings(
        token=token,
        seeds_dir=Path(env.get("NEWS_SEEDS_DIR", "").strip() or DEFAULT_SEEDS_DIR),
        db_path=Path(env.get("NEWS_DB_PATH", "").strip() or DEFAULT_DB_PATH),
        owner_ids=owners,
        dev_guild_id=_snowflake(guild, "NEWS_DEV_GUILD_ID") if guild else None,
        log_level=level,
        sync_minutes=_integer(env, "NEWS_SYNC_MINUTES", 10, 0),
        max_file_bytes=_integer(env, "NEWS_MAX_FILE_BYTES", DEFAULT_MAX_BYTES, 1024),
        yaml_parser=parser,
        digest_grace_hours=_integer(env, "NEWS_DIGEST_GRACE_HOURS", 6, 0),
    )
