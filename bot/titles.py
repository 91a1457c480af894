"""Fast fuzzy title lookup: a trigram index narrows 100,000 titles to a few hundred for WRatio.

An exhaustive rapidfuzz WRatio scan costs ~180 ms at 100,000 titles, too slow to answer
an autocomplete keystroke. WRatio on a short query is dominated by the best partial
(substring) alignment, and a title that aligns well with the query holds most of the
query's trigrams. So the titles holding the most of the query's trigrams are found with
numpy (a bincount over posting lists), and only those are scored with WRatio.

A sync changes a few titles of a large corpus: the index is then updated, not rebuilt. The
posting lists built at start (the base) stay as they are; the titles changed since sit in a
small second segment (the delta), rebuilt on each update, and the base titles they replace
or remove are masked out. Every query gives exactly what an index built afresh would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process, utils

Scorer = Callable[..., float]  # a rapidfuzz scorer such as fuzz.WRatio

CANDIDATES = 250  # titles scored by WRatio per query
_SHORT_SCAN = 5000  # occurrences looked at for a one- or two-character query
BLOCK = 16384  # titles per posting block (at most 65,536: see _Block.owners)
POSTINGS_BUDGET = 60_000  # title entries counted per query, beyond its rarest trigrams
MAX_TRIGRAMS = 12  # rarest trigrams always counted, whatever the budget
# A trigram held by more than 1 in DENSE_SHARE of the start-up titles (" ai", "ing") is kept
# as a bitmap of one bit per title instead of a posting list of 4 bytes per holder: smaller,
# and a query adds it to its counts in one vectorised pass instead of counting its holders.
DENSE_SHARE = 16
_BYTE_MAX = 255
_MOSTLY = 4  # a query shared by more than 1 title in this many is shared by most
_SEPARATOR = 0  # byte after each title in a blob of titles; never inside a title
_NO_POSITIONS = np.empty(0, dtype=np.int64)


class Texts:
    """Strings kept as one UTF-8 blob, each followed by a NUL byte.

    A tuple of 300,000 str objects costs ~50 bytes of header each on top of the text (and,
    with one non-ASCII letter, two or four bytes per character); this costs one byte more.
    """

    __slots__ = ("blob", "starts")

    def __init__(self, blob: bytes, starts: np.ndarray):
        self.blob = blob
        self.starts = starts  # int64; text i is blob[starts[i] : starts[i + 1] - 1]

    @classmethod
    def of(cls, encoded: Sequence[bytes]) -> Texts:
        lengths = np.fromiter((len(e) + 1 for e in encoded), dtype=np.int64, count=len(encoded))
        starts = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        return cls(b"".join(e + b"\x00" for e in encoded), starts)

    @classmethod
    def joined(cls, parts: Sequence[Texts]) -> Texts:
        """The texts of `parts`, one after another."""
        offsets = np.cumsum([0] + [len(part.blob) for part in parts])
        starts = np.concatenate([part.starts[:-1] + offset
                                 for part, offset in zip(parts, offsets, strict=False)]
                                + [offsets[-1:]]).astype(np.int64)
        return cls(b"".join(part.blob for part in parts), starts)

    def __len__(self) -> int:
        return len(self.starts) - 1

    def raw(self, index: int) -> bytes:
        return self.blob[self.starts.item(index) : self.starts.item(index + 1) - 1]

    def text(self, index: int) -> str:
        return self.raw(index).decode("utf-8")

    def lengths(self) -> np.ndarray:
        """The UTF-8 length of every text."""
        return (np.diff(self.starts) - 1).astype(np.int32)

    def where(self, offsets: Sequence[int]) -> np.ndarray:
        """The index of the text holding each byte offset of the blob."""
        return np.searchsorted(self.starts, offsets, side="right") - 1


def processed(title: str) -> bytes:
    """A title as the index holds it: rapidfuzz's `default_process`, in UTF-8."""
    return utils.default_process(title).encode("utf-8")


def _codes(data: np.ndarray) -> np.ndarray:
    """The 24-bit code of every byte trigram starting at each position of `data`."""
    wide = data.astype(np.int64)
    return (wide[:-2] << 16) | (wide[1:-1] << 8) | wide[2:]


class _Block(NamedTuple):
    """The posting lists of one block of titles: `counts[i]` owners per code `codes[i]`."""

    codes: np.ndarray  # distinct trigram codes, ascending
    counts: np.ndarray  # how many of the block's titles hold each code
    # The titles, grouped by code, ascending within a code: as indexes into `positions`,
    # in 16 bits (a block holds at most BLOCK titles), which halves the blocks' memory
    # while the merge copies them into one list.
    owners: np.ndarray
    positions: np.ndarray  # the block's titles' positions


def _postings(texts: Texts, first: int, end: int, positions: np.ndarray) -> _Block:
    """The posting lists of texts `first` to `end` (at `positions`), each pair once."""
    data = np.frombuffer(texts.blob, dtype=np.uint8)
    joined = np.concatenate([data[texts.starts.item(first) : texts.starts.item(end)],
                             np.zeros(2, dtype=np.uint8)])
    lengths = np.diff(texts.starts[first : end + 1])
    owner = np.repeat(np.arange(end - first, dtype=np.int64), lengths)
    count = len(owner)  # one trigram start per byte of each title and its separator
    # Only trigrams that cross no title boundary.
    inside = ((joined[:-2] != _SEPARATOR) & (joined[1:-1] != _SEPARATOR)
              & (joined[2:] != _SEPARATOR))[:count]
    pairs = (_codes(joined)[:count][inside] << 24) | owner[inside]
    pairs.sort()  # sort + mask: much faster than np.unique here
    keep = np.ones(len(pairs), dtype=bool)
    np.not_equal(pairs[1:], pairs[:-1], out=keep[1:])
    pairs = pairs[keep]
    codes = pairs >> 24
    starts = np.flatnonzero(np.diff(codes, prepend=-1))  # where each code's pairs begin
    counts = np.diff(np.append(starts, len(codes)))
    return _Block(codes[starts].astype(np.int32), counts,
                  (pairs & ((1 << 24) - 1)).astype(np.uint16), positions[first:end])


def _merge(blocks: list[_Block]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One posting list per trigram from the blocks' lists: (codes, offsets, owners).

    The titles holding `codes[i]` are `owners[offsets[i] : offsets[i + 1]]`, ascending.
    Blocks are consumed as they are copied, so the build holds the owners about twice.
    """
    if not blocks:
        return np.empty(0, np.int32), np.zeros(1, np.int64), np.empty(0, np.int32)
    codes = np.unique(np.concatenate([block.codes for block in blocks]))
    totals = np.zeros(len(codes), dtype=np.int64)
    for block in blocks:
        totals[np.searchsorted(codes, block.codes)] += block.counts
    offsets = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum(totals, out=offsets[1:])
    owners = np.empty(int(offsets[-1]), dtype=np.int32)
    filled = offsets[:-1].copy()  # where each code's owners from the next block go
    while blocks:
        block = blocks.pop(0)
        at = np.searchsorted(codes, block.codes)
        # The block's owners of one code go after those of earlier blocks (which hold
        # lower positions), so each list stays ascending. int32 keeps the build's peak
        # memory down: ~100,000 titles hold a few million pairs, far below 2**31.
        group_starts = np.cumsum(block.counts) - block.counts
        where = np.repeat((filled[at] - group_starts).astype(np.int32), block.counts)
        where += np.arange(len(block.owners), dtype=np.int32)
        owners[where] = block.positions[block.owners]
        filled[at] += block.counts
    return codes, offsets, owners


class _Segment:
    """Texts at given positions, with one trigram → positions posting list per trigram.

    The posting lists are built in blocks of BLOCK titles, then merged: sorting all of
    100,000 titles' trigram pairs at once would briefly need several times the size of the
    finished index. One list per trigram (not per block) keeps a query to one lookup.
    With `dense` (positions 0 to n - 1 only), common trigrams are bitmaps instead (see
    DENSE_SHARE): their posting lists are left empty.
    """

    __slots__ = ("bitmaps", "codes", "offsets", "owners", "positions", "rows", "sizes",
                 "texts")

    def __init__(self, texts: Texts, positions: np.ndarray, *, dense: bool = False):
        self.texts = texts
        self.positions = positions  # ascending
        blocks = [_postings(texts, first, min(first + BLOCK, len(texts)), positions)
                  for first in range(0, len(texts), BLOCK)]
        self.codes, self.offsets, self.owners = _merge(blocks)
        self.sizes = np.diff(self.offsets)  # how many titles hold each code
        self.rows = np.full(len(self.codes), -1, dtype=np.int32)  # each code's bitmap, or -1
        self.bitmaps = np.empty((0, 0), dtype=np.uint8)
        if dense:
            self._densify(np.flatnonzero(self.sizes * DENSE_SHARE > len(texts)))

    def _densify(self, common: np.ndarray) -> None:
        """Turn the posting lists of the `common` codes into bitmaps (bit i: position i)."""
        if not len(common):
            return
        count = len(self.texts)
        self.bitmaps = np.zeros((len(common), (count + 7) // 8), dtype=np.uint8)
        held = np.zeros(count, dtype=np.bool_)
        for row, code in enumerate(common.tolist()):
            held[:] = False
            held[self.owners[self.offsets[code] : self.offsets[code + 1]]] = True
            self.bitmaps[row] = np.packbits(held)
        self.rows[common] = np.arange(len(common), dtype=np.int32)
        listed = self.sizes.copy()
        listed[common] = 0
        self.owners = self.owners[np.repeat(self.rows < 0, self.sizes)]
        self.offsets = np.zeros(len(self.codes) + 1, dtype=np.int64)
        np.cumsum(listed, out=self.offsets[1:])

    def add_dense(self, counts: np.ndarray, rows: np.ndarray) -> None:
        """Add to `counts` (by position) how many of these bitmaps hold each position."""
        # Summed a byte per position, at most 255 bitmaps at a time (a query has few common
        # trigrams; a long title compared with similar ones may have more).
        for first in range(0, len(rows), _BYTE_MAX):
            total = np.zeros(self.bitmaps.shape[1] * 8, dtype=np.uint8)
            for row in rows[first : first + _BYTE_MAX].tolist():
                total += np.unpackbits(self.bitmaps[row])
            counts[: len(self.texts)] += total[: len(self.texts)]

    def lists(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each wanted code: where its posting list starts and ends (empty if unknown),
        and where the code is in `codes` (-1 if unknown)."""
        if not len(self.codes):
            empty = np.zeros(len(wanted), dtype=np.int64)
            return empty, empty, empty - 1
        at = np.minimum(np.searchsorted(self.codes, wanted), len(self.codes) - 1)
        known = self.codes[at] == wanted
        starts = np.where(known, self.offsets[at], 0)
        ends = np.where(known, self.offsets[at + 1], 0)
        return starts, ends, np.where(known, at, -1)

    def occurrences(self, pattern: re.Pattern[bytes], limit: int | None,
                    skip: np.ndarray | None = None) -> list[int]:
        """The position of each of the first `limit` occurrences (all: None) of `pattern`, in
        text order, in texts not masked by `skip`."""
        found: list[int] = []
        matches = pattern.finditer(self.texts.blob)
        while limit is None or len(found) < limit:
            need = None if limit is None else limit - len(found)
            offsets = [match.start() for match in islice(matches, need)]
            if offsets:
                at = self.texts.where(offsets)
                if skip is not None:
                    at = at[~skip[at]]
                found.extend(self.positions[at].tolist())
            if need is None or len(offsets) < need:
                break
        return found


class TitleIndex:
    """Processed titles by position, searchable by trigram; updated by `changed`."""

    def __init__(self, titles: Sequence[str]):
        # WRatio is scored on processed text, exactly as `processor=default_process` would.
        self._start(Texts.of([processed(title) for title in titles]))

    @classmethod
    def of(cls, texts: Texts) -> TitleIndex:
        """The index of titles already processed (`processed`) and gathered in `texts`."""
        index = object.__new__(cls)
        index._start(texts)
        return index

    def _start(self, texts: Texts) -> None:
        self._base = _Segment(texts, np.arange(len(texts), dtype=np.int64), dense=True)
        self._live = self._base.sizes.copy()  # titles holding each base code, not masked
        self._masked = np.zeros(len(texts), dtype=bool)  # base titles replaced or removed
        self._dead = _NO_POSITIONS  # the same, as positions
        self._delta = _Segment(Texts.of([]), _NO_POSITIONS)
        self._slot: dict[int, int] = {}  # position -> its text's index in the delta
        self._lengths = texts.lengths()  # UTF-8 length of each position's text
        self._size = len(texts)

    def __len__(self) -> int:
        return self._size

    @property
    def delta_size(self) -> int:
        """How many titles changed since the base was built."""
        return len(self._delta.texts)

    def text(self, position: int) -> str:
        """The processed title at `position` ("" for a removed one)."""
        return self._raw(position).decode("utf-8")

    def texts_of(self, positions: Sequence[int]) -> list[str]:
        """`text` of many positions at once: the base's in one vectorised pass."""
        at = np.asarray(positions, dtype=np.int64)
        base = self._base.texts
        in_base = at < len(self._masked)
        in_base[in_base] = ~self._masked[at[in_base]]
        texts = [""] * len(at)
        chosen = np.flatnonzero(in_base)
        blob = base.blob
        for i, start, end in zip(chosen.tolist(), base.starts[at[chosen]].tolist(),
                                 base.starts[at[chosen] + 1].tolist(), strict=True):
            texts[i] = blob[start : end - 1].decode("utf-8")
        for i in np.flatnonzero(~in_base).tolist():
            texts[i] = self.text(positions[i])
        return texts

    def _raw(self, position: int) -> bytes:
        slot = self._slot.get(position)
        if slot is not None:
            return self._delta.texts.raw(slot)
        if position < len(self._masked) and not self._masked[position]:
            return self._base.texts.raw(position)
        return b""

    def changed(self, titles: Mapping[int, str | None], size: int) -> TitleIndex:
        """A new index: the titles at these positions replaced (None: removed), positions
        up to `size` in all. This one is left as it was, for the queries running on it."""
        new = object.__new__(TitleIndex)
        new._base = self._base
        delta = {position: self._raw(position) for position in self._slot}
        base_size = len(self._masked)
        newly_masked = [p for p in titles if p < base_size and not self._masked[p]]
        for position, title in titles.items():
            if title is None:
                delta.pop(position, None)
            else:
                delta[position] = processed(title)
        new._masked = self._masked.copy()
        new._masked[newly_masked] = True
        new._dead = np.flatnonzero(new._masked)
        new._live = self._live.copy()
        if newly_masked:
            gone = np.array(sorted(newly_masked), dtype=np.int64)
            # Only how many of these titles hold each code is wanted, not which ones.
            block = _postings(Texts.of([self._base.texts.raw(p) for p in gone]), 0, len(gone),
                              gone)
            new._live[np.searchsorted(self._base.codes, block.codes)] -= block.counts
        order = sorted(delta)
        new._delta = _Segment(Texts.of([delta[p] for p in order]),
                              np.array(order, dtype=np.int64))
        new._slot = {position: slot for slot, position in enumerate(order)}
        new._lengths = np.zeros(size, dtype=np.int32)
        new._lengths[: len(self._lengths)] = self._lengths
        for position, slot in new._slot.items():
            new._lengths[position] = len(new._delta.texts.raw(slot))
        new._size = size
        return new

    def _candidates(self, query: str) -> np.ndarray:
        data = np.frombuffer(query.encode("utf-8"), dtype=np.uint8)
        wanted = np.unique(_codes(data)).astype(np.int32)
        # Where each wanted trigram's posting lists lie; empty for a trigram no title has.
        starts, ends, at = self._base.lists(wanted)
        delta_starts, delta_ends, _at = self._delta.lists(wanted)
        sizes = delta_ends - delta_starts
        if len(self._live):  # `at` is -1 for a code the base lacks
            sizes = sizes + np.where(at >= 0, self._live[at], 0)
        # A long query's commonest trigrams (" ai", "ing") each list most titles of a large
        # corpus and tell little apart: past a budget, its rarest ones alone are counted.
        order = np.argsort(sizes, kind="stable")
        within = np.cumsum(sizes[order]) <= POSTINGS_BUDGET
        within[:MAX_TRIGRAMS] = True
        kept = order[within & (sizes[order] > 0)]
        if len(kept) == 0:
            return np.empty(0, dtype=np.int64)
        counts = np.bincount(np.concatenate(_slices(self._base.owners, starts[kept],
                                                    ends[kept])), minlength=self._size)
        rows = self._base.rows[at[kept]] if len(self._base.rows) else at[:0]
        rows = rows[(at[kept] >= 0) & (rows >= 0)]
        if len(rows):  # the common trigrams, whose base lists are bitmaps
            self._base.add_dense(counts, rows)
        counts[self._dead] = 0  # replaced titles count with their new text, in the delta
        extra = np.concatenate(_slices(self._delta.owners, delta_starts[kept],
                                       delta_ends[kept]))
        np.add.at(counts, extra, 1)
        sure, tied = _above_and_at(counts)
        if tied is None:
            return sure
        need = CANDIDATES - len(sure)
        shortest = tied[np.argpartition(self._lengths[tied], need - 1)[:need]] if need else tied[:0]
        return np.concatenate([sure, shortest])

    def _shortest_holding(self, query: str) -> list[int]:
        # One C-speed scan of the titles in position order, stopped early for a common query;
        # the delta's titles are merged in by position, as if they stood in the base.
        pattern = re.compile(re.escape(query.encode("utf-8")))
        found = self._base.occurrences(pattern, _SHORT_SCAN,
                                       self._masked if len(self._dead) else None)
        # The base's first occurrences and every one in the delta: the first of them by
        # position are those an index built afresh would find first.
        offsets = sorted(found + self._delta.occurrences(pattern, None))[:_SHORT_SCAN]
        holding = np.unique(np.array(offsets, dtype=np.int64))
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
        choices = dict(zip(candidates, self.texts_of(candidates), strict=True))
        hits = process.extract(query, choices, scorer=scorer, processor=None,
                               score_cutoff=cutoff, limit=limit)
        return [(position, score) for _text, score, position in hits]


def _above_and_at(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The positions of the titles sharing more trigrams with the query than a level, and
    of those sharing exactly that level, where more than CANDIDATES share at least it;
    (every title sharing any, None) if no more than CANDIDATES do.

    Titles above the level all go in; of those at it, the shortest, which WRatio scores
    higher (it scales partial matches down as the length ratio grows): no sort is needed.
    """
    # A query of rare trigrams is shared by few titles: the level arithmetic then runs on
    # them alone. One of common trigrams is shared by most: it runs on the whole array,
    # rather than gathering most of it first.
    if np.count_nonzero(counts) * _MOSTLY > len(counts):
        levels = counts
        positions = None
    else:
        positions = np.flatnonzero(counts > 0)  # on a bool array: several times faster
        levels = counts[positions]
    # titles_from[c]: how many titles share at least c trigrams with the query.
    titles_from = np.cumsum(np.bincount(levels)[::-1])[::-1]
    crowded = np.flatnonzero(titles_from[1:] > CANDIDATES)
    if len(crowded) == 0:
        return (np.flatnonzero(levels) if positions is None else positions), None
    level = int(crowded[-1]) + 1
    if positions is None:
        return np.flatnonzero(levels > level), np.flatnonzero(levels == level)
    return positions[levels > level], positions[levels == level]


def _slices(owners: np.ndarray, starts: Iterable[int], ends: Iterable[int]) -> list[np.ndarray]:
    return [owners[start:end] for start, end in zip(starts, ends, strict=True)] or [
        np.empty(0, dtype=np.int32)]
