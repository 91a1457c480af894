"""Fast fuzzy title lookup: a trigram index narrows 100,000 titles to a few hundred for WRatio.

An exhaustive rapidfuzz WRatio scan costs ~180 ms at 100,000 titles, too slow to answer
an autocomplete keystroke. WRatio on a short query is dominated by the best partial
(substring) alignment, and a title that aligns well with the query holds most of the
query's trigrams. So the titles holding the most of the query's trigrams are found with
numpy (a bincount over posting lists), and only those are scored with WRatio.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
from rapidfuzz import fuzz, process, utils

Scorer = Callable[..., float]  # a rapidfuzz scorer such as fuzz.WRatio

CANDIDATES = 250  # titles scored by WRatio per query
_SHORT_SCAN = 5000  # occurrences looked at for a one- or two-character query
BLOCK = 16384  # titles per posting block
POSTINGS_BUDGET = 60_000  # title entries counted per query, beyond its rarest trigrams
MAX_TRIGRAMS = 24  # rarest trigrams always counted, whatever the budget
_SEPARATOR = 0  # byte between titles in the concatenated text; never inside a title


def _codes(data: np.ndarray) -> np.ndarray:
    """The 24-bit code of every byte trigram starting at each position of `data`."""
    wide = data.astype(np.int64)
    return (wide[:-2] << 16) | (wide[1:-1] << 8) | wide[2:]


def _postings(encoded: Sequence[bytes], first: int) -> tuple[np.ndarray, np.ndarray]:
    """(trigram codes, title positions) of `encoded` titles, sorted, each pair once."""
    joined = np.frombuffer(b"\x00".join(encoded) + b"\x00" * 3, dtype=np.uint8)
    lengths = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded))
    owner = np.repeat(np.arange(first, first + len(encoded), dtype=np.int64), lengths)
    count = len(owner)  # one trigram start per byte of each title and its separator
    # Only trigrams that cross no title boundary.
    inside = ((joined[:-2] != _SEPARATOR) & (joined[1:-1] != _SEPARATOR)
              & (joined[2:] != _SEPARATOR))[:count]
    pairs = (_codes(joined)[:count][inside] << 24) | owner[inside]
    pairs.sort()  # sort + mask: much faster than np.unique here
    keep = np.ones(len(pairs), dtype=bool)
    np.not_equal(pairs[1:], pairs[:-1], out=keep[1:])
    pairs = pairs[keep]
    return (pairs >> 24).astype(np.int32), (pairs & ((1 << 24) - 1)).astype(np.int32)


class TitleIndex:
    """Processed titles with trigram → titles posting lists, in blocks of BLOCK titles.

    Blocks keep the memory of a build small: sorting all of 100,000 titles' trigram pairs at
    once would briefly need several times the size of the finished index.
    """

    def __init__(self, titles: Sequence[str]):
        # WRatio is scored on processed text, exactly as `processor=default_process` would.
        self.texts = [utils.default_process(title) for title in titles]
        encoded = [text.encode("utf-8") for text in self.texts]
        self._lengths = np.fromiter((len(e) for e in encoded), dtype=np.int32,
                                    count=len(encoded))
        self._blocks = [_postings(encoded[first : first + BLOCK], first)
                        for first in range(0, len(encoded), BLOCK)]
        # All titles in one string (and where each starts), for queries too short for trigrams.
        self._all_text = "\n".join(self.texts)
        self._starts = np.cumsum([0] + [len(text) + 1 for text in self.texts[:-1]])

    def __len__(self) -> int:
        return len(self.texts)

    def _candidates(self, query: str) -> np.ndarray:
        data = np.frombuffer(query.encode("utf-8"), dtype=np.uint8)
        wanted = np.unique(_codes(data)).astype(np.int32)
        # Where each wanted trigram's posting list lies in each block: (blocks, trigrams).
        starts = np.array([np.searchsorted(codes, wanted, side="left")
                           for codes, _owners in self._blocks]).reshape(-1, len(wanted))
        ends = np.array([np.searchsorted(codes, wanted, side="right")
                         for codes, _owners in self._blocks]).reshape(-1, len(wanted))
        sizes = (ends - starts).sum(axis=0)
        # A long query's commonest trigrams (" ai", "ing") each list most titles of a large
        # corpus and tell little apart: past a budget, its rarest ones alone are counted.
        order = np.argsort(sizes, kind="stable")
        within = np.cumsum(sizes[order]) <= POSTINGS_BUDGET
        within[:MAX_TRIGRAMS] = True
        kept = [t for t in order[within] if sizes[t]]
        postings = [owners[starts[block, t] : ends[block, t]]
                    for block, (_codes, owners) in enumerate(self._blocks) for t in kept]
        if not postings:
            return np.empty(0, dtype=np.int64)
        counts = np.bincount(np.concatenate(postings), minlength=len(self.texts))
        # titles_from[c]: how many titles share at least c trigrams with the query.
        titles_from = np.cumsum(np.bincount(counts)[::-1])[::-1]
        crowded = np.flatnonzero(titles_from[1:] > CANDIDATES)
        if len(crowded) == 0:
            return np.flatnonzero(counts)
        # Titles sharing more than `level` trigrams all go in; of those sharing exactly
        # `level`, the shortest, which WRatio scores higher (it scales partial matches down
        # as the length ratio grows). No sort of the whole corpus is needed.
        level = int(crowded[-1]) + 1
        sure = np.flatnonzero(counts > level)
        tied = np.flatnonzero(counts == level)
        need = CANDIDATES - len(sure)
        shortest = tied[np.argpartition(self._lengths[tied], need - 1)[:need]] if need else tied[:0]
        return np.concatenate([sure, shortest])

    def _shortest_holding(self, query: str) -> list[int]:
        # One C-speed scan of all titles, stopped early for a common query.
        offsets = []
        for match in re.finditer(re.escape(query), self._all_text):
            offsets.append(match.start())
            if len(offsets) >= _SHORT_SCAN:
                break
        holding = np.unique(np.searchsorted(self._starts, offsets, side="right") - 1)
        if len(holding) > CANDIDATES:
            holding = holding[np.argpartition(self._lengths[holding], CANDIDATES)[:CANDIDATES]]
        return holding.tolist()

    def search(
        self, text: str, limit: int, cutoff: float, scorer: Scorer = fuzz.WRatio
    ) -> list[tuple[int, float]]:
        """(title position, score) of the best matches for `text`, best first."""
        query = utils.default_process(text)
        if not query:
            return []
        if len(query) < 3:  # no trigram: the shortest titles holding the text
            candidates = self._shortest_holding(query)
        else:
            candidates = self._candidates(query).tolist()
        choices = {position: self.texts[position] for position in candidates}
        hits = process.extract(query, choices, scorer=scorer, processor=None,
                               score_cutoff=cutoff, limit=limit)
        return [(position, score) for _text, score, position in hits]
