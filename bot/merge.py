"""Merging the versions of one article (full files and related stubs) into one, order-free.

Versions are merged in their stored JSON form: decoding to plain records is much cheaper
than building an Article per version, and most of a corpus' articles have several. A load
avoids even that for most articles: each version is ranked where it is parsed, and
`Fullest` settles an article by its fullest version when no other version adds a field.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, KeysView
from itertools import compress
from typing import Any, Generic, TypeVar

from bot.articles import (
    Article,
    Record,
    article_from_record,
    article_to_json,
    record_from_json,
    record_to_json,
)

# Fields a version may leave empty and another version may fill.
_FILLABLE = (
    "excerpt", "published_at", "original_url", "web_url", "amp_url", "amp_cache_url",
    "category", "kind", "quality", "heat", "published", "provider", "topics", "images",
)
_EMPTY: tuple[object, ...] = (None, "", [])

# (True, published, related stubs, path key, JSON) for a full version; (False, fields,
# excerpt length, topics and images, published, JSON) for a stub (see `fullness`).
Fullness = tuple[object, ...]
R = TypeVar("R")


_FILLABLE_VALUES = operator.itemgetter(*_FILLABLE)
_BITS = tuple(1 << bit for bit in range(len(_FILLABLE)))
_ALL_BITS = sum(_BITS)


def filled_fields(record: Record) -> int:
    """Which of the fields a version may leave empty this one gives, as bits of `_FILLABLE`."""
    # Built-ins only (no Python-level loop): it runs for every version of a corpus.
    empty = sum(compress(_BITS, map(_EMPTY.__contains__, _FILLABLE_VALUES(record))))
    return _ALL_BITS ^ empty


def fullness(record: Record, text: str, fields: int | None = None) -> Fullness:
    """Sort key, greatest first: a full version before any stub.

    Between full versions (files and feed entries for the same article): any file before
    any feed entry (a file is what the operator put there), then the newest
    `publishedDateTime`, then the file that lists the most related stubs, then the file
    whose path sorts first.
    Between stubs: more fields, then longer text, then the newest. The JSON text decides
    what is still tied (versions stored before full ones named their file), so the result
    never depends on the order versions arrive in. `fields` saves computing
    `filled_fields` again.
    """
    if not record["is_stub"]:
        return (True, record.get("source") != "feed", record["published_at"] or "",
                record.get("related_count", 0),
                _sorts_first(record.get("path", "")), text)
    return (
        False,
        (filled_fields(record) if fields is None else fields).bit_count(),
        len(record["excerpt"]),
        len(record["topics"]) + len(record["images"]),
        record["published_at"] or "",  # ISO 8601 in UTC: sorts as time does
        text,
    )


# Each UTF-8 byte turned into its complement: a path that sorts first then compares greatest,
# as the key's other parts do for the better version. UTF-8 bytes sort as code points do.
_COMPLEMENT = bytes(range(255, -1, -1))


def _sorts_first(path: str) -> bytes:
    """A key that is greater for a path earlier in alphabetical (code point) order."""
    # The closing 0xff, greater than any complemented byte of a path (no path holds NUL),
    # makes a path rank above the longer paths it begins.
    return path.encode().translate(_COMPLEMENT) + b"\xff" if path else b""


def merge_json(versions: Iterable[str]) -> tuple[Record, str]:
    """One article's record, and its JSON, from all its versions (as `article_to_json` or
    parsing wrote them).

    The first version in `fullness` order gives every field it has; the others, in that
    order, fill only what it left empty. So a full file always wins over a stub of itself,
    and a stub never erases a field that a full file gave. Identical versions count once.
    """
    distinct = set(versions)
    if len(distinct) == 1:
        (text,) = distinct
        return record_from_json(text), text
    ordered = sorted(((record_from_json(text), text) for text in distinct),
                     key=lambda version: fullness(*version), reverse=True)
    best, best_text = ordered[0]
    missing = [name for name in _FILLABLE if best[name] in _EMPTY]
    filled = False
    for other, _text in ordered[1:]:
        for name in [name for name in missing if other[name] not in _EMPTY]:
            best[name] = other[name]
            missing.remove(name)
            filled = True
    return best, record_to_json(best) if filled else best_text


def merge_versions(versions: Iterable[Article]) -> Article:
    """`merge_json` for Article objects."""
    return article_from_record(merge_json(article_to_json(version) for version in versions)[0])


# One version ranked for merging: its fullness, its filled fields, and what its article
# would be from it alone. A plain tuple: workers hand over hundreds of thousands, and
# plain tuples pickle six times faster than named ones.
Candidate = tuple[Fullness, int, R]


def candidate(record: Record, text: str, alone: R) -> Candidate[R]:
    """The candidate of one version: its decoded record, its JSON, and its result alone."""
    fields = filled_fields(record)
    return fullness(record, text, fields), fields, alone


class Fullest(Generic[R]):
    """The fullest version of each article so far (the first in `fullness` order: for
    files, the newest), and every field any version gave.

    When the fullest version lacks no field that another gives, `merge_json` would return
    it unchanged: most articles are merged so, without decoding any version again.
    """

    def __init__(self) -> None:
        # By URL: [the fullest version so far, the fields of all its versions]. One lookup
        # per version: this runs for every version of a corpus.
        self._entries: dict[str, list[Any]] = {}

    def add(self, url: str, version: Candidate[R]) -> None:
        entry = self._entries.get(url)
        if entry is None:
            self._entries[url] = [version, version[1]]
            return
        if version[0] > entry[0][0]:
            entry[0] = version
        entry[1] |= version[1]

    def urls(self) -> KeysView[str]:
        return self._entries.keys()

    def merged(self, url: str, others: int = 0) -> R | None:
        """The merge of every version added for `url`, and of versions not added that give
        at most the fields `others` and rank below them all; None when it needs filling."""
        entry = self._entries.get(url)
        if entry is None:
            return None
        best, fields = entry
        return None if (fields | others) & ~best[1] else best[2]
