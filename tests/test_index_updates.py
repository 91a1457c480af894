"""The search index after a sync is updated from what the sync changed, and answers exactly as
an index built afresh from the store would: titles, autocomplete, similar titles, names."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from random import Random
from types import ModuleType
from typing import Any

import pytest

from bot import search, titles
from bot.queries import News
from bot.search import SearchIndex
from bot.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _load_generator() -> ModuleType:
    # bench/ is a folder of scripts, not a package: load the file by path.
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
_TITLE = re.compile(r'^title: "', re.MULTILINE)
_STUB_TITLE = re.compile(r'^  - title: "', re.MULTILINE)


def answers(index: SearchIndex, probes: list[str]) -> dict[str, Any]:
    """Everything the index tells a user, for a fixed set of typed texts."""
    def scored(hits: list[Any]) -> list[tuple[Any, float]]:
        return [(hit.item, round(hit.score, 6)) for hit in hits]

    return {
        "titles": index.titles,
        "topics": index.topics,
        "providers": index.providers,
        "match_titles": {text: scored(index.match_titles(text)) for text in probes},
        "similar": {text: scored(index.similar_titles(text, 30)) for text in probes},
        "match_topics": {text: scored(index.match_topics(text)) for text in probes[:20]},
        "match_providers": {text: scored(index.match_providers(text)) for text in probes[:20]},
        "entries": [index.title_entry(entry.id) for entry in index.titles],
        "scores": [index.score_of(entry.id) for entry in index.titles],
    }


def probes_of(index: SearchIndex, rng: Random) -> list[str]:
    """Texts a person types: nothing, one or two letters, whole titles, fragments, typos."""
    titles = [entry.title for entry in index.titles]
    picked = rng.sample(titles, min(len(titles), 25))
    texts = ["", "a", "ai", "mi", "nv", "e", "updated", "chip", "Microsoft Azure"]
    for title in picked:
        words = title.split()
        texts += [title, " ".join(words[1:4]).lower(), title[:2], title[:7],
                  title.replace(title[3:5], title[4:2:-1], 1)]
    return texts


async def check_same_as_fresh(news: News, rng: Random) -> None:
    fresh = await SearchIndex.build(news.store)
    probes = probes_of(fresh, rng)
    assert answers(news.index, probes) == answers(fresh, probes)
    # The counts the index keeps are those the store counts.
    assert news.index.topics == await news.store.topic_counts()
    assert [(p.id, p.name, p.domain, tuple(sorted(p.names)), p.count)
            for p in news.index.providers] == [
        (p.id, p.name, p.domain, tuple(sorted(p.names)), p.count)
        for p in await news.store.provider_counts()]


def edit(path: Path, pattern: re.Pattern[str], mark: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(pattern.sub(f'\\g<0>{mark} ', text, count=1), encoding="utf-8")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    gen.generate(folder, 300, seed=11)
    return folder


@pytest.mark.parametrize("tight", [False, True], ids=["default limits", "tight limits"])
async def test_a_sync_updates_the_index_to_what_a_fresh_build_gives(
    store: Store, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tight: bool
) -> None:
    if tight:  # a small corpus then meets the limits a large one meets on every query
        monkeypatch.setattr(titles, "_SHORT_SCAN", 15)
        monkeypatch.setattr(titles, "POSTINGS_BUDGET", 40)
        monkeypatch.setattr(titles, "MAX_TRIGRAMS", 2)
        monkeypatch.setattr(titles, "CANDIDATES", 8)
    rng = Random(5)
    news = News(store, corpus)
    await news.sync()
    base = news.index
    files = sorted(corpus.iterdir())

    # Ten new files (new articles, new stubs, some of the stubs the same pages again).
    extra = gen.generate(tmp_path / "extra", 10, seed=12)
    for number, path in enumerate(extra):
        shutil.copy(path, corpus / f"new_{number:02d}_{path.name}")
    report = await news.sync()
    assert len(report.added) == 10 and report.article_ids
    await check_same_as_fresh(news, rng)

    # Titles rewritten (a file's own and a stub's), files deleted, a score changed.
    for path in files[:6]:
        edit(path, _TITLE, "Updated")
    for path in files[6:12]:
        edit(path, _STUB_TITLE, "Revised")
    for path in files[12:20]:
        path.unlink()
    quality = files[20].read_text(encoding="utf-8")
    files[20].write_text(re.sub(r"^quality: \d+", "quality: 19", quality, count=1,
                                flags=re.MULTILINE), encoding="utf-8")
    report = await news.sync()
    assert report.updated and report.removed
    await check_same_as_fresh(news, rng)

    # The newest files removed, then others added: the new articles get the ids the removed
    # ones had (the next free id), and a deleted file comes back under a new name.
    for path in corpus.glob("new_*"):
        path.unlink()
    await news.sync()
    shutil.copy(gen.generate(tmp_path / "more", 1, seed=14)[0], corpus / "more.txt")
    shutil.copy(extra[9], corpus / "again.txt")
    await news.sync()
    await check_same_as_fresh(news, rng)
    # All of it was an update of the index built at the first sync, never a rebuild.
    assert news.index._titles._base is base._titles._base


async def test_past_the_delta_limit_the_index_is_built_afresh(
    store: Store, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "MIN_DELTA", 5)
    news = News(store, corpus)
    await news.sync()
    base = news.index
    for number, path in enumerate(gen.generate(tmp_path / "extra", 10, seed=13)):
        shutil.copy(path, corpus / f"new_{number:02d}.txt")
    await news.sync()
    assert news.index._titles._base is not base._titles._base
    await check_same_as_fresh(news, Random(6))
