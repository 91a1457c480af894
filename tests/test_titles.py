"""The trigram title index: its merged posting lists and its answers, whatever the block size."""

from __future__ import annotations

from random import Random

import numpy as np
import pytest
from rapidfuzz import fuzz, utils

from bot import titles
from bot.titles import TitleIndex

WORDS = ("nvidia", "amd", "azure", "meta", "chips", "model", "open", "source", "ai", "gpu",
         "launch", "über", "räksmörgås", "training", "inference", "data", "centre", "x")


def sample_titles(count: int, seed: int = 0) -> list[str]:
    rng = Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8))).title()
            for _ in range(count)]


def trigrams(text: str) -> set[int]:
    data = text.encode("utf-8")
    return {(data[i] << 16) | (data[i + 1] << 8) | data[i + 2] for i in range(len(data) - 2)}


@pytest.mark.parametrize("block", [1, 7, 64, titles.BLOCK])
def test_posting_lists_hold_exactly_the_titles_with_each_trigram(
    monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(titles, "BLOCK", block)
    texts = sample_titles(300)
    index = TitleIndex(texts)
    expected: dict[int, list[int]] = {}
    for position in range(len(index)):
        text = index.text(position)
        for code in trigrams(text):
            expected.setdefault(code, []).append(position)
    base = index._base
    assert base.codes.tolist() == sorted(expected)
    for i, code in enumerate(base.codes.tolist()):
        owners = base.owners[base.offsets[i] : base.offsets[i + 1]].tolist()
        assert owners == expected[code]  # ascending, each title once


def test_answers_do_not_depend_on_the_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = sample_titles(2000, seed=1)
    whole = TitleIndex(texts)
    monkeypatch.setattr(titles, "BLOCK", 100)
    blocked = TitleIndex(texts)
    queries = [*texts[:40], "nvdia chips", "azure", "gp", "training inference data", "zzz"]
    for query in queries:
        assert blocked.search(query, 10, 60.0) == whole.search(query, 10, 60.0)
        assert (blocked.search(query, 30, 50.0, scorer=fuzz.token_set_ratio)
                == whole.search(query, 30, 50.0, scorer=fuzz.token_set_ratio))


def test_a_title_finds_itself_first() -> None:
    texts = sample_titles(500, seed=2)
    index = TitleIndex(texts)
    for position in range(0, 500, 25):
        hits = index.search(texts[position], 5, 60.0)
        assert hits[0][1] == 100.0
        assert index.text(hits[0][0]) == utils.default_process(texts[position])


def test_an_empty_index_finds_nothing() -> None:
    index = TitleIndex([])
    assert index.search("nvidia chips", 5, 60.0) == []
    assert index.search("ai", 5, 60.0) == []
    assert len(index._candidates("nvidia")) == 0
    assert isinstance(index._candidates("nvidia"), np.ndarray)
