"""Settings: read from an explicit environment, validated, each mistake one clear line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import DEFAULT_DB_PATH, DEFAULT_SEEDS_DIR, ConfigError, Settings, load_settings
from bot.parse import DEFAULT_MAX_BYTES

TOKEN = "MTA" + "x" * 24 + ".Gabcde." + "y" * 38  # shaped like a bot token, not a real one


def config_error(env: dict[str, str], *, require_token: bool = False) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(require_token=require_token, env=env)
    message = str(caught.value)
    assert "\n" not in message and message.strip() == message
    return message


def test_defaults_without_any_setting() -> None:
    settings = load_settings(require_token=False, env={})
    assert settings == Settings()
    assert settings.seeds_dir == DEFAULT_SEEDS_DIR and settings.db_path == DEFAULT_DB_PATH
    assert settings.max_file_bytes == DEFAULT_MAX_BYTES
    assert settings.sync_minutes == 10 and settings.log_level == "INFO"
    assert settings.yaml_parser == "auto" and settings.owner_ids == frozenset()
    assert settings.library_log_level == "INFO" and settings.log_format == "text"


def test_every_setting_is_read_and_typed() -> None:
    settings = load_settings(
        require_token=True,
        env={
            "DISCORD_TOKEN": f"  {TOKEN}\n",
            "NEWS_SEEDS_DIR": "/srv/news/seeds",
            "NEWS_DB_PATH": "/srv/news/news.db",
            "NEWS_OWNER_IDS": "123456789012345678, 876543210987654321 ,",
            "NEWS_DEV_GUILD_ID": "112233445566778899",
            "NEWS_LOG_LEVEL": "debug",
            "NEWS_SYNC_MINUTES": "0",
            "NEWS_MAX_FILE_BYTES": " 2048 ",
            "NEWS_YAML_PARSER": "PyYAML",
            "NEWS_LOG_LEVEL_LIBRARIES": "warning",
            "NEWS_LOG_FORMAT": " JSON ",
        },
    )
    assert settings.token == TOKEN
    assert settings.seeds_dir == Path("/srv/news/seeds")
    assert settings.db_path == Path("/srv/news/news.db")
    assert settings.owner_ids == frozenset({123456789012345678, 876543210987654321})
    assert settings.dev_guild_id == 112233445566778899
    assert settings.log_level == "DEBUG"
    assert settings.sync_minutes == 0
    assert settings.max_file_bytes == 2048
    assert settings.yaml_parser == "pyyaml"
    assert settings.library_log_level == "WARNING"
    assert settings.log_format == "json"


@pytest.mark.parametrize(("own", "libraries"),
                         [("DEBUG", "INFO"), ("INFO", "INFO"), ("ERROR", "ERROR")])
def test_libraries_follow_the_log_level_but_never_below_info(own: str, libraries: str) -> None:
    settings = load_settings(require_token=False, env={"NEWS_LOG_LEVEL": own})
    assert (settings.log_level, settings.library_log_level) == (own, libraries)


def test_the_token_never_shows_in_the_settings_repr() -> None:
    settings = load_settings(require_token=True, env={"DISCORD_TOKEN": TOKEN})
    assert TOKEN not in repr(settings)


def test_a_missing_token_is_one_clear_line_when_required() -> None:
    message = config_error({}, require_token=True)
    assert message.startswith("DISCORD_TOKEN is not set: copy .env.example to .env")
    assert "Reset Token" in message


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_token_in_the_environment_is_called_empty(token: str) -> None:
    message = config_error({"DISCORD_TOKEN": token}, require_token=True)
    assert message.startswith("DISCORD_TOKEN is set but empty in the environment")
    assert "copy .env.example" not in message


def test_a_dotenv_without_a_token_line_says_to_add_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("NEWS_SYNC_MINUTES=5\n", encoding="utf-8")
    for name in [key for key in os.environ if key.startswith(("NEWS_", "DISCORD_"))]:
        monkeypatch.delenv(name)
    with pytest.raises(ConfigError) as caught:
        load_settings(require_token=True, dotenv_path=str(dotenv))
    assert str(caught.value).startswith(
        f"DISCORD_TOKEN is not set: {dotenv} has no DISCORD_TOKEN line; add DISCORD_TOKEN=")


def test_a_missing_token_is_fine_for_the_command_line() -> None:
    assert load_settings(require_token=False, env={}).token == ""


@pytest.mark.parametrize("token", ["abc", "two words " + "x" * 60])
def test_a_token_that_is_not_a_token_is_refused(token: str) -> None:
    message = config_error({"DISCORD_TOKEN": token}, require_token=True)
    assert "DISCORD_TOKEN" in message
    assert token not in message  # a mistyped secret is not echoed into logs


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWS_OWNER_IDS", "123456789012345678,not-a-number"),
        ("NEWS_OWNER_IDS", "12345"),
        ("NEWS_OWNER_IDS", "-123456789012345678"),
        ("NEWS_DEV_GUILD_ID", "guild"),
        ("NEWS_DEV_GUILD_ID", "1234567890123456789012345"),
        ("NEWS_SYNC_MINUTES", "ten"),
        ("NEWS_SYNC_MINUTES", "-1"),
        ("NEWS_SYNC_MINUTES", "1.5"),
        ("NEWS_MAX_FILE_BYTES", "1MB"),
        ("NEWS_MAX_FILE_BYTES", "10"),
        ("NEWS_LOG_LEVEL", "LOUD"),
        ("NEWS_LOG_LEVEL_LIBRARIES", "CHATTY"),
        ("NEWS_LOG_FORMAT", "xml"),
        ("NEWS_YAML_PARSER", "ruamel"),
    ],
)
def test_a_malformed_setting_is_named_in_the_error(name: str, value: str) -> None:
    message = config_error({name: value})
    assert message.startswith(name)


def test_an_id_error_says_how_to_get_an_id() -> None:
    message = config_error({"NEWS_DEV_GUILD_ID": "my-server"})
    assert "'my-server'" in message and "Copy ID" in message


def test_a_number_error_says_what_would_work() -> None:
    message = config_error({"NEWS_SYNC_MINUTES": "ten"})
    assert "'ten'" in message and "NEWS_SYNC_MINUTES=10" in message


def test_the_dotenv_file_is_read_and_the_real_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("NEWS_SYNC_MINUTES=5\nNEWS_LOG_LEVEL=DEBUG\n# a comment\n",
                      encoding="utf-8")
    for name in [key for key in os.environ if key.startswith(("NEWS_", "DISCORD_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NEWS_LOG_LEVEL", "WARNING")
    settings = load_settings(require_token=False, dotenv_path=str(dotenv))
    assert settings.sync_minutes == 5
    assert settings.log_level == "WARNING"


def test_feed_settings_have_defaults_and_are_read() -> None:
    defaults = load_settings(require_token=False, env={})
    assert defaults.feeds_file == Path("seeds/feeds.opml")
    assert (defaults.feeds_minutes, defaults.feed_max_bytes) == (15, 10_000_000)
    assert (defaults.feeds_allow_private, defaults.feed_retention_days) == (False, 90)
    settings = load_settings(require_token=False, env={
        "NEWS_FEEDS_FILE": " /srv/feeds.opml ", "NEWS_FEEDS_MINUTES": "0",
        "NEWS_FEED_MAX_BYTES": "2048", "NEWS_FEEDS_ALLOW_PRIVATE": "1",
        "NEWS_FEED_RETENTION_DAYS": "0",
    })
    assert settings.feeds_file == Path("/srv/feeds.opml")
    assert (settings.feeds_minutes, settings.feed_max_bytes) == (0, 2048)
    assert (settings.feeds_allow_private, settings.feed_retention_days) == (True, 0)
    # Set and empty: no feed list file at all.
    assert load_settings(require_token=False, env={"NEWS_FEEDS_FILE": " "}).feeds_file is None


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("NEWS_FEEDS_ALLOW_PRIVATE", "maybe", "NEWS_FEEDS_ALLOW_PRIVATE='maybe' is not 0 or 1"),
    ("NEWS_FEEDS_MINUTES", "-1", "NEWS_FEEDS_MINUTES=-1 is too small"),
    ("NEWS_FEED_MAX_BYTES", "10MB", "NEWS_FEED_MAX_BYTES='10MB' is not a whole number"),
    ("NEWS_FEED_RETENTION_DAYS", "-5", "NEWS_FEED_RETENTION_DAYS=-5 is too small"),
])
def test_bad_feed_settings_name_the_setting(name: str, value: str, expected: str) -> None:
    assert config_error({name: value}).startswith(expected)


# --------------------------------------------------------------------------- sharding


def test_shards_default_to_one_process_with_the_recommended_count() -> None:
    settings = load_settings(require_token=False, env={})
    assert settings.shard_count is None and settings.shard_ids is None
    assert settings.lease_seconds == 60


@pytest.mark.parametrize(("raw", "ids"), [
    ("0-3", (0, 1, 2, 3)), ("4,5", (4, 5)), (" 0 , 2-3 ", (0, 2, 3)), ("6", (6,)),
    ("1-1,1", (1,)),
])
def test_shard_ids_are_ranges_and_lists(raw: str, ids: tuple[int, ...]) -> None:
    settings = load_settings(require_token=False,
                             env={"NEWS_SHARD_COUNT": "8", "NEWS_SHARD_IDS": raw,
                                  "NEWS_LEASE_SECONDS": "5"})
    assert settings.shard_count == 8 and settings.shard_ids == ids
    assert settings.lease_seconds == 5


def test_a_shard_count_alone_connects_all_its_shards() -> None:
    settings = load_settings(require_token=False, env={"NEWS_SHARD_COUNT": "2"})
    assert settings.shard_count == 2 and settings.shard_ids is None


def test_a_shard_id_beyond_the_count_is_refused() -> None:
    message = config_error({"NEWS_SHARD_COUNT": "4", "NEWS_SHARD_IDS": "2-4"})
    assert message == ("NEWS_SHARD_IDS: shard 4 does not exist with NEWS_SHARD_COUNT=4 (ids "
                       "run from 0 to 3); raise the count or drop the id")


def test_shard_ids_without_a_count_are_refused() -> None:
    message = config_error({"NEWS_SHARD_IDS": "0"})
    assert message.startswith("NEWS_SHARD_IDS='0' needs NEWS_SHARD_COUNT: set it to the "
                              "number of shards")


@pytest.mark.parametrize("raw", ["a", "0-", "-1", "1;2", "0,,1", "0 1", "1.5"])
def test_shard_ids_with_bad_syntax_are_refused(raw: str) -> None:
    message = config_error({"NEWS_SHARD_COUNT": "4", "NEWS_SHARD_IDS": raw})
    assert message.startswith(f"NEWS_SHARD_IDS={raw!r} is not a list of shard ids; write "
                              "them like 0-3 or 4,5")


def test_a_backwards_range_is_refused() -> None:
    message = config_error({"NEWS_SHARD_COUNT": "4", "NEWS_SHARD_IDS": "3-1"})
    assert message.startswith("NEWS_SHARD_IDS: the range '3-1' runs backwards")


@pytest.mark.parametrize(("env", "start"), [
    ({"NEWS_SHARD_COUNT": "0"}, "NEWS_SHARD_COUNT=0 is too small; it must be at least 1"),
    ({"NEWS_SHARD_COUNT": "two"}, "NEWS_SHARD_COUNT='two' is not a whole number"),
    ({"NEWS_LEASE_SECONDS": "1"}, "NEWS_LEASE_SECONDS=1 is too small; it must be at least 3"),
])
def test_bad_shard_count_or_lease_is_refused(env: dict[str, str], start: str) -> None:
    assert config_error(env).startswith(start)
