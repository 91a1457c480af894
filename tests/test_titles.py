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
    assert (base.rows >= 0).any()  # these few words make some trigrams common: bitmaps
    for i, code in enumerate(base.codes.tolist()):
        owners = base.owners[base.offsets[i] : base.offsets[i + 1]].tolist()
        if base.rows[i] >= 0:
            assert owners == []
            held = np.unpackbits(base.bitmaps[base.rows[i]])[: len(index)]
            owners = np.flatnonzero(held).tolist()
        assert owners == expected[code]  # ascending, each title once
        assert base.sizes[i] == len(expected[code])


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


def test_answers_do_not_depend_on_which_trigrams_are_bitmaps(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = sample_titles(2000, seed=3)
    dense = TitleIndex(texts)
    monkeypatch.setattr(titles, "DENSE_SHARE", 0)  # no trigram is common enough
    listed = TitleIndex(texts)
    assert (dense._base.rows >= 0).any() and not (listed._base.rows >= 0).any()
    queries = [*texts[:40], "nvdia chips", "azure", "gp", "training inference data", "zzz"]
    for query in queries:
        assert dense.search(query, 10, 60.0) == listed.search(query, 10, 60.0)
        assert (dense.search(query, 30, 50.0, scorer=fuzz.token_set_ratio)
                == listed.search(query, 30, 50.0, scorer=fuzz.token_set_ratio))
    changed = {5: "Nvidia launch of open source chips", 7: None, 2000: "Azure gpu centre"}
    for query in ("nvidia launch", "azure gpu", texts[7]):
        assert (dense.changed(changed, 2001).search(query, 10, 60.0)
                == listed.changed(changed, 2001).search(query, 10, 60.0))


def test_more_common_trigrams_than_a_byte_counts_are_counted_right(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = Random(4)
    common = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(600))
    # Hundreds of titles holding a fifth of it: they outnumber the candidates scored, so
    # which titles are scored depends on the counts of shared trigrams.
    texts = [f"{common} {number}" for number in range(40)] + [
        f"{common[at : at + 120 + at % 7]} part {at}" for at in range(480)]
    dense = TitleIndex(texts)
    monkeypatch.setattr(titles, "DENSE_SHARE", 0)
    listed = TitleIndex(texts)
    assert (dense._base.rows >= 0).sum() > 255  # every trigram of `common` is common
    for query in (common, common[:300], f"{common[100:400]} part 100"):
        assert sorted(dense._candidates(query).tolist()) == sorted(
            listed._candidates(query).tolist())
    assert dense.search(f"{common} 17", 3, 60.0)[0] == (17, 100.0)


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
