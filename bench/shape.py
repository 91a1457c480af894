"""The shape of a corpus of article files: articles, related stubs, versions, topics, providers.

The same figures are computed from any folder (a generated corpus, the real seeds), so that a
benchmark corpus can be held against the real data it stands for.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.articles import canonical_url

# Of the 22 real 2022 files of the seed format that were looked at (issue 20): 75 articles,
# 3.4 per file; 2.4 related stubs per file on average, from 0 to 21. Only these were counted.
REAL_22_FILES: dict[str, float] = {
    "files": 22, "articles": 75, "articles_per_file": 3.4, "stubs_per_file_mean": 2.4,
    "stubs_per_file_max": 21,
}


def _identity(fields: dict[str, Any]) -> str | None:
    url = fields.get("originalUrl") or fields.get("webUrl")
    return canonical_url(url) if isinstance(url, str) else None


@dataclass(slots=True)
class ShapeCounter:
    """Fed one parsed front matter at a time; `figures()` gives the shape of all of them."""

    files: int = 0
    stubs: list[int] = field(default_factory=list)  # related stubs per file
    own: Counter[str] = field(default_factory=Counter)  # files per full article
    mentions: Counter[str] = field(default_factory=Counter)  # versions per article
    stub_urls: list[str] = field(default_factory=list)
    topics: list[int] = field(default_factory=list)  # topics per file's own article
    providers_per_file: list[int] = field(default_factory=list)
    providers: set[str] = field(default_factory=set)

    def add(self, fields: object) -> None:
        if not isinstance(fields, dict):
            return
        self.files += 1
        related = [stub for stub in fields.get("related") or [] if isinstance(stub, dict)]
        self.stubs.append(len(related))
        domains: set[str] = set()
        for version in (fields, *related):
            provider = version.get("provider")
            if isinstance(provider, dict) and provider.get("domain"):
                domains.add(str(provider["domain"]))
        self.providers_per_file.append(len(domains))
        self.providers |= domains
        self.topics.append(len(fields.get("topics") or []))
        own = _identity(fields)
        if own is not None:
            self.own[own] += 1
            self.mentions[own] += 1
        for stub in related:
            url = _identity(stub)
            if url is not None:
                self.stub_urls.append(url)
                self.mentions[url] += 1

    def figures(self) -> dict[str, float]:
        """Name → value; empty corpora give zeros, never a division error."""
        files = self.files or 1
        stubs = sorted(self.stubs) or [0]
        articles = len(self.mentions)
        with_file = sum(url in self.own for url in self.stub_urls)
        return {
            "files": self.files,
            "articles": articles,
            "articles_per_file": articles / files,
            "stubs_per_file_mean": sum(stubs) / files,
            "stubs_per_file_p50": _rank(stubs, 50),
            "stubs_per_file_p90": _rank(stubs, 90),
            "stubs_per_file_max": stubs[-1],
            "files_without_stubs": sum(n == 0 for n in stubs) / files,
            "stubs_with_own_file": with_file / len(self.stub_urls) if self.stub_urls else 0.0,
            "versions_per_article_mean": sum(self.mentions.values()) / (articles or 1),
            "versions_per_article_max": max(self.mentions.values(), default=0),
            "files_per_full_article_max": max(self.own.values(), default=0),
            "topics_per_article_mean": sum(self.topics) / files,
            "providers_per_file_mean": sum(self.providers_per_file) / files,
            "providers": len(self.providers),
        }


def _rank(ordered: list[int], pct: float) -> int:
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def shape_of(parsed: Iterable[object]) -> dict[str, float]:
    """The shape figures of these parsed front matters."""
    counter = ShapeCounter()
    for fields in parsed:
        counter.add(fields)
    return counter.figures()
