"""Shared fixtures: the real seeds, fixture files, real SQLite stores, the fake Discord."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.articles import article_to_json
from bot.client import NewsBot
from bot.config import Settings
from bot.queries import News
from bot.store import Store
from tests.fake_discord import FakeDiscord

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
# The seed article files (the seeds folder also holds the default feed list, feeds.opml).
SEED_FILES = sorted(SEEDS.glob("*.txt"))
ODD_FILES = Path(__file__).resolve().parent / "odd_files"
BROKEN = ODD_FILES / "broken"
ODD = ODD_FILES / "odd"

META_FILE = "000_d3bf2ac4b66bdadd.txt"
AMD_FILE = "003_89ee00ab69bf1abb.txt"
# Canonical identities of the two full seed articles.
META_URL = (
    "https://datacenterdynamics.com/en/news/"
    "metafacebook-to-use-dedicated-microsoft-azure-cluster-for-ai-supercomputing"
)
AMD_URL = "https://theregister.com/2022/05/26/amd_azure_microsoft"
AMD_TITLE = "Microsoft Azure to spin up AMD MI200 GPU clusters for 'large scale' AI training"
META_TITLE = "Meta/Facebook to use dedicated Microsoft Azure cluster for AI supercomputing"


def fixture_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_file())


def front_matter(fields: dict[str, Any], body: str = "") -> str:
    """An article file's text with `fields` as YAML front matter."""
    dumped = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)
    return f"---\n{dumped}---\n{body}"


def write_article(path: Path, **fields: Any) -> Path:
    """Write one article file (folders created) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(front_matter(fields), encoding="utf-8")
    return path


async def snapshot(store: Store) -> dict[str, Any]:
    """Everything a reader can see of a corpus, keyed by canonical URL instead of row id."""
    entries = await store.titles()
    articles = await store.articles([entry.id for entry in entries])
    url_of = {article_id: article.url for article_id, article in articles.items()}
    related: set[tuple[str, str]] = set()
    for article_id, url in url_of.items():
        listed, _listing = await store.linked(article_id)
        related.update((url, url_of[other]) for other in listed)
    return {
        "articles": {article.url: article_to_json(article) for article in articles.values()},
        "related": related,
        "topics": sorted((topic.name, topic.count) for topic in await store.topic_counts()),
        "providers": sorted(
            (p.domain, p.name, tuple(sorted(p.names)), p.count)
            for p in await store.provider_counts()
        ),
    }


@pytest.fixture
def seeds_dir(tmp_path: Path) -> Path:
    """A private copy of the real seed articles."""
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder, ignore=shutil.ignore_patterns("*.opml"))
    return folder


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "db" / "news.db") as opened:
        yield opened


@pytest.fixture
async def news(store: Store, seeds_dir: Path) -> News:
    """The real seeds, synced into a fresh database."""
    corpus = News(store, seeds_dir)
    report = await corpus.sync()
    assert report.failed == []
    return corpus


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """The local fake Discord; a test fails if the bot called a route it does not know."""
    async with FakeDiscord() as fake:
        yield fake
        assert [(r.method, r.path) for r in fake.unhandled] == []


def make_bot(store: Store, seeds: Path, clock: Callable[[], datetime] | None = None) -> NewsBot:
    """The real bot on `store` and `seeds`, no background re-sync or feed poll (and no feed
    list file), optionally a test clock."""
    settings = Settings(token="x" * 60, seeds_dir=seeds, db_path=store.path, sync_minutes=0,
                        feeds_file=None, feeds_minutes=0)
    bot = NewsBot(news=News(store, seeds), settings=settings)
    if clock is not None:
        bot.clock = clock
    return bot
