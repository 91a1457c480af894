"""A follow as stored: its rule, where it posts, and how its posting goes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.follows.rules import FollowRule

PAUSED_BY_MEMBER = "paused by a member"
PAUSED_FAILING = "paused itself after failing for 3 days"
PAUSE_AFTER = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Follow:
    """One follow of a server: post new articles matching `rule` in `channel_id`."""

    guild_id: int
    channel_id: int
    rule: FollowRule
    created_at: datetime
    role_id: int | None = None
    paused: str | None = None  # why it is paused (PAUSED_*); None while active
    failure: str | None = None  # why the last post failed; None once one works
    failing_since: datetime | None = None
    retry_at: datetime | None = None
    posted: int = 0
    last_post_at: datetime | None = None
    id: int = 0

    def state(self) -> str:
        """As shown in /follow list: ok, failing since … (why), or paused."""
        if self.paused:
            why = f" (last failure: {self.failure})" if self.failure else ""
            return f"{self.paused}{why}; /follow resume starts it again"
        if self.failure and self.failing_since:
            return f"failing since {self.failing_since:%Y-%m-%d %H:%M} UTC: {self.failure}"
        return "ok"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An outbox row: an article a follow matched, and how far its post went."""

    follow_id: int
    url: str  # canonical article URL: with the follow id, the record's key
    guild_id: int
    batch: int
    state: str  # pending, sending or sent
    nonce: str | None = None
    attempt_at: datetime | None = None
