"""The plain results the store and the loader hand back, as commands and embeds read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.articles import Article


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results and how many there are in all."""

    items: list[Article]
    total: int  # at most the store's COUNT_CAP
    offset: int
    limit: int
    capped: bool = False  # more than COUNT_CAP matched: "1000+"


@dataclass(frozen=True, slots=True)
class TopicCount:
    id: int
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class ProviderCount:
    id: int
    name: str
    domain: str
    names: tuple[str, ...]  # every spelling seen, for fuzzy matching
    count: int


@dataclass(frozen=True, slots=True)
class TitleEntry:
    id: int
    title: str
    is_stub: bool
    score: float


# id, title, is_stub, score, provider id, the article's spelling of its provider's name, and
# its topic ids ("3,17"; None for none).
TitleRow = tuple[int, str, int, float, int | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Stats:
    articles: int
    full_articles: int
    topics: int
    providers: int
    files: int
    failing_files: int
    database_bytes: int
    last_sync: datetime | None



@dataclass(slots=True)
class SyncReport:
    """What one sync did. Paths are relative to the seeds directory."""

    seeds_dir: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    newly_failed: list[tuple[str, str]] = field(default_factory=list)  # read by this sync
    warnings: list[str] = field(default_factory=list)
    articles: int = 0  # articles in the corpus after the sync
    # Of the articles this sync wrote, those that several files give in full, and those files.
    merged_articles: int = 0
    merged_files: int = 0
    duration: float = 0.0
    # Folders (ending in "/"; "" is the seeds folder itself) and files the scan could not
    # read; each is in `failed` too. What the store holds of the files under them is kept.
    unreadable: list[str] = field(default_factory=list)
    kept: int = 0  # stored files under those, neither read nor removed
    # Why this sync changed nothing although the folder may say otherwise: the seeds folder
    # is missing, or empty while the store holds articles ("" when it synced).
    refused: str = ""
    article_ids: list[int] = field(default_factory=list)  # the articles written or deleted

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        """One line for logs and replies."""
        merged = (f"; {self.merged_files} files merged into {self.merged_articles} "
                  f"article{'s' if self.merged_articles != 1 else ''}"
                  if self.merged_articles else "")
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {self.unchanged} unchanged, "
            f"{len(self.removed)} removed, {len(self.failed)} failed"
            f"{f', {self.kept} kept unread' if self.kept else ''}{merged}; "
            f"{self.articles} articles in {self.duration:.2f} s"
        )
