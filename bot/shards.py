"""Which process speaks for a server: Discord's shard formula on the guild id."""

from __future__ import annotations

from collections.abc import Collection


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a server's events to (its documented formula)."""
    return (guild_id >> 22) % shard_count


def owns(guild_id: int, shard_count: int | None, shard_ids: Collection[int] | None) -> bool:
    """Whether a process connecting `shard_ids` of `shard_count` shards owns the server.

    No shard count (one unsharded connection) or no shard ids (this process connects them
    all) owns every server.
    """
    if not shard_count or shard_ids is None:
        return True
    return shard_of(guild_id, shard_count) in shard_ids
