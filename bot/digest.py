"""Daily digests, the pure part: when each is due (time zones, DST, catch-up) and what it holds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rapidfuzz import fuzz, process, utils

from bot.articles import Article

DEFAULT_SIZE = 5
MAX_SIZE = 10
FIRST_WINDOW = timedelta(hours=24)  # how far back the very first digest of a channel looks
_HHMM = re.compile(r"^\s*([01]?\d|2[0-3])[:.h]([0-5]\d)\s*$")


@dataclass(frozen=True, slots=True)
class Digest:
    """One channel's digest settings and what has been posted so far."""

    guild_id: int
    channel_id: int
    post_time: time
    timezone: str
    topics: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    size: int = DEFAULT_SIZE
    role_id: int | None = None
    quiet_day: bool = False
    last_day: date | None = None  # the last scheduled local day handled (posted or not)
    last_window_end: datetime | None = None  # articles published up to here were covered
    failure: str | None = None  # why the last post failed, shown in /digest show
    id: int | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Action(Enum):
    """What the scheduler does with a digest at a given moment."""

    WAIT = "wait"  # its next occurrence is in the future
    POST = "post"  # an occurrence is due (on time or within the grace period)
    SKIP = "skip"  # an occurrence was missed by more than the grace period


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    day: date  # the local day of the occurrence concerned
    at: datetime  # that occurrence, aware UTC


def parse_time(text: str) -> time:
    """`HH:MM` (24-hour) → a time; ValueError with a helpful message otherwise."""
    match = _HHMM.match(text)
    if not match:
        raise ValueError(
            f"time must be HH:MM on a 24-hour clock, e.g. 08:30 or 18:00; got {text!r}"
        )
    return time(int(match.group(1)), int(match.group(2)))


def check_timezone(name: str) -> str:
    """The IANA zone name if it exists; ValueError naming close matches otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = timezone_matches(name, 3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
                         f"{hint}") from None
    return name


_ZONES = sorted(available_timezones())


def timezone_matches(text: str, limit: int = 25) -> list[str]:
    """IANA zone names best matching `text` (for autocomplete and suggestions)."""
    if not text.strip():
        return ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
    hits = process.extract(text, _ZONES, scorer=fuzz.WRatio, processor=utils.default_process,
                           limit=limit, score_cutoff=50)
    return [name for name, _score, _index in hits]


def occurrence(digest: Digest, day: date) -> datetime:
    """The moment (UTC) the digest is due on local `day`.

    A wall time that does not exist that day (the spring-forward gap) is taken an hour
    later; one that happens twice (fall back) is taken the first time. Either way there
    is exactly one occurrence per local day.
    """
    local = datetime.combine(day, digest.post_time, tzinfo=digest.zone)
    # Round-tripping through UTC moves a time inside a DST gap forward to a real time.
    return local.astimezone(UTC)


def latest_occurrence(digest: Digest, now: datetime) -> tuple[date, datetime]:
    """The last occurrence at or before `now`: (its local day, its moment)."""
    today = now.astimezone(digest.zone).date()
    for day in (today, today - timedelta(days=1), today - timedelta(days=2)):
        at = occurrence(digest, day)
        if at <= now:
            return day, at
    raise AssertionError("unreachable: an occurrence happens every day")  # pragma: no cover


def next_occurrence(digest: Digest, now: datetime) -> datetime:
    """The first occurrence strictly after `now`."""
    today = now.astimezone(digest.zone).date()
    for offset in range(3):
        at = occurrence(digest, today + timedelta(days=offset))
        if at > now:
            return at
    raise AssertionError("unreachable: an occurrence happens every day")  # pragma: no cover


def decide(digest: Digest, now: datetime, grace: timedelta) -> Decision:
    """Post, skip (missed beyond `grace`) or wait; each local day is handled at most once."""
    day, at = latest_occurrence(digest, now)
    if digest.last_day is not None and digest.last_day >= day:
        return Decision(Action.WAIT, day, next_occurrence(digest, now))
    if now - at <= grace:
        return Decision(Action.POST, day, at)
    return Decision(Action.SKIP, day, at)


def window_start(digest: Digest, now: datetime) -> datetime:
    """Articles published after this go into the next digest."""
    return digest.last_window_end or now - FIRST_WINDOW


@dataclass(frozen=True, slots=True)
class DigestContent:
    """What a digest posts: the chosen articles and what the header says."""

    day: date
    articles: list[Article]
    new_count: int  # articles in the window after filtering, before the top `size`
    top_topics: list[str] = field(default_factory=list)


def select_articles(digest: Digest, candidates: Sequence[Article], day: date) -> DigestContent:
    """Filter by keywords, drop duplicates (same title), keep the best `size` in rank order.

    `candidates` come from the store already limited to the window and topics, best first.
    """
    keywords = [keyword.casefold() for keyword in digest.keywords]
    seen_titles: set[str] = set()
    kept: list[Article] = []
    for article in candidates:
        text = f"{article.title} {article.excerpt}".casefold()
        if keywords and not any(keyword in text for keyword in keywords):
            continue
        title_key = utils.default_process(article.title)
        if title_key in seen_titles:
            continue  # the same story from another outlet or under another URL
        seen_titles.add(title_key)
        kept.append(article)
    topic_counts: dict[str, int] = {}
    for article in kept:
        for topic in article.topics:
            topic_counts[topic] = topic_counts.get(topic, 0) + 1
    top = sorted(topic_counts, key=lambda name: (-topic_counts[name], name))[:5]
    return DigestContent(day, kept[: digest.size], len(kept), top)
