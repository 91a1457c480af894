"""Shard ownership: the process whose shards include (guild_id >> 22) % count owns a server."""

from bot.shards import owns, shard_of

# Real-looking snowflakes: the shard lives in the bits above the 22 low ones.
GUILD_ON_0 = 0 << 22 | 12345
GUILD_ON_1 = 1 << 22 | 12345
GUILD_ON_5 = (7 * 8 + 5) << 22 | 999


def test_shard_of_uses_the_bits_above_22() -> None:
    assert shard_of(GUILD_ON_0, 2) == 0
    assert shard_of(GUILD_ON_1, 2) == 1
    assert shard_of(GUILD_ON_5, 8) == 5


def test_each_server_has_exactly_one_owner_among_processes() -> None:
    processes = [{0, 1}, {2, 3}, {4, 5, 6, 7}]
    for guild in (GUILD_ON_0, GUILD_ON_1, GUILD_ON_5):
        assert sum(owns(guild, 8, ids) for ids in processes) == 1


def test_unsharded_or_all_shards_owns_everything() -> None:
    assert owns(GUILD_ON_1, None, None)
    assert owns(GUILD_ON_1, 2, None)
    assert not owns(GUILD_ON_1, 2, [0])
