"""What's hot: the topics and providers rising fastest, and the stories covered most."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.articles import Article

RECENT = timedelta(hours=24)
BEFORE_DAYS = 7  # the recent day is set against the average day of the week before it
SHOWN = 5  # rises and stories shown of each kind


@dataclass(frozen=True, slots=True)
class Window:
    """The recent day [split, end) and the week before it [start, split)."""

    start: datetime
    split: datetime
    end: datetime
    last_active: date | None = None  # nothing in the 24 h before now: the day shown instead

    @classmethod
    def before(cls, now: datetime, last_published: datetime | None) -> Window:
        """The 24 hours before `now`, or the last day with an article when none is that
        recent (or `now` when the corpus has no dated article at all)."""
        end, day = now, None
        if last_published is not None and last_published < now - RECENT:
            day = last_published.astimezone(UTC).date()
            end = datetime.combine(day + timedelta(days=1), time(), UTC)
        split = end - RECENT
        return cls(split - timedelta(days=BEFORE_DAYS), split, end, day)

    @property
    def today(self) -> str:
        """How a reason names the recent day."""
        return f"on {self.last_active:%Y-%m-%d}" if self.last_active else "today"

    @property
    def last_week(self) -> str:
        return "the week before" if self.last_active else "last week"


@dataclass(frozen=True, slots=True)
class Rise:
    """A topic or provider: its articles in the recent day and in the week before."""

    name: str
    recent: int
    before: int

    @property
    def per_day(self) -> float:
        return self.before / BEFORE_DAYS

    @property
    def surprise(self) -> float:
        """How far above its usual day it is, in Poisson standard deviations: a small
        topic tripling ranks with a big one growing by a few articles, not above it."""
        return (self.recent - self.per_day) / math.sqrt(self.per_day + 1)

    def reason(self, window: Window) -> str:
        """ "12 articles today, 3 a day last week"."""
        if self.before == 0:
            usual = f"none {window.last_week}"
        elif self.per_day >= 1:
            usual = f"{round(self.per_day)} a day {window.last_week}"
        else:
            usual = f"{self.before} {window.last_week}"
        noun = "article" if self.recent == 1 else "articles"
        return f"{self.recent} {noun} {window.today}, {usual}"


def risen(activity: Iterable[tuple[str, int, int]], limit: int = SHOWN) -> list[Rise]:
    """The names whose recent day is above their usual one, sharpest rise first."""
    rises = [Rise(name, recent, before) for name, recent, before in activity]
    rising = [rise for rise in rises if rise.recent > rise.per_day]
    rising.sort(key=lambda rise: (-rise.surprise, -rise.recent, rise.name))
    return rising[:limit]


@dataclass(frozen=True, slots=True)
class Story:
    """An article with the related articles that list it or that it lists."""

    article: Article
    articles: int  # the article and its related ones
    sources: int  # their distinct providers

    @property
    def reason(self) -> str:
        sources = "1 source" if self.sources == 1 else f"{self.sources} sources"
        return f"{self.articles} articles from {sources}"


def covered(linked: Mapping[int, set[int]], providers: Mapping[int, int | None],
            limit: int = SHOWN) -> list[tuple[int, int, int]]:
    """(article id, articles, sources) of the stories covered most, most first. A story is
    shown once: an article already in a story shown does not lead another."""
    def size(article_id: int) -> tuple[int, int]:
        members = linked[article_id] | {article_id}
        sources = {providers.get(member) for member in members} - {None}
        return len(members), len(sources)

    sizes = {article_id: size(article_id) for article_id in linked}
    shown: list[tuple[int, int, int]] = []
    taken: set[int] = set()
    for article_id in sorted(sizes, key=lambda i: (-sizes[i][0], -sizes[i][1], i)):
        if len(shown) == limit:
            break
        if article_id not in taken:
            taken |= linked[article_id] | {article_id}
            shown.append((article_id, *sizes[article_id]))
    return shown


@dataclass(frozen=True, slots=True)
class Trending:
    """What's hot at `now`: rising topics and providers, stories covered most."""

    now: datetime
    window: Window
    topics: list[Rise]
    providers: list[Rise]
    stories: list[Story]
    dated: bool = True  # whether the corpus has any dated article at all

    @property
    def since_last_active(self) -> date | None:
        """The day shown when nothing was published in the 24 hours before `now`."""
        return self.window.last_active

    @property
    def heading(self) -> str:
        if self.since_last_active:
            return f"What's hot on {self.since_last_active:%Y-%m-%d}"
        return "What's hot in the last 24 hours"

    @property
    def note(self) -> str:
        """Why the answer is not about the last 24 hours, or is empty; "" when it is not."""
        if not self.dated:
            return "No dated articles yet: nothing can be trending."
        if self.since_last_active:
            return (f"Nothing was published in the 24 hours before {self.now:%Y-%m-%d %H:%M}"
                    f" UTC; the last active day was {self.since_last_active:%Y-%m-%d}.")
        return ""

    def sections(self) -> list[tuple[str, list[tuple[str, str, str | None]]]]:
        """(title, [(name, reason, link)]) of each kind that has something; a story has its
        article's link. Names and links are untrusted."""
        sections: list[tuple[str, list[tuple[str, str, str | None]]]] = [
            ("Rising topics",
             [(rise.name, rise.reason(self.window), None) for rise in self.topics]),
            ("Rising providers",
             [(rise.name, rise.reason(self.window), None) for rise in self.providers]),
            ("Most covered stories",
             [(story.article.title, story.reason, story.article.link)
              for story in self.stories]),
        ]
        return [(title, rows) for title, rows in sections if rows]

    def notes(self) -> list[str]:
        """What to say before the sections: `note`, and that nothing rises when so."""
        notes = [self.note] if self.note else []
        if self.dated and not self.sections():
            notes.append("Nothing is rising: every topic and provider is at or below its "
                         "usual day.")
        return notes

    def lines(self) -> list[str]:
        """The whole answer as plain lines (names untrusted), as the CLI prints it."""
        lines = [self.heading, *self.notes()]
        for title, rows in self.sections():
            lines += ["", f"{title}:"]
            for name, reason, link in rows:
                lines.append(f"  {name} - {reason}")
                if link:
                    lines.append(f"    {link}")
        return lines
