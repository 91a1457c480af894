"""Merging the versions of one article (full files and related stubs) into one, order-free.

Versions are merged in their stored JSON form: decoding to plain records is much cheaper
than building an Article per version, and most of a corpus' articles have several.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.articles import Article, article_from_record, article_to_json, record_to_json

# Fields a version may leave empty and another version may fill.
_FILLABLE = (
    "excerpt", "published_at", "original_url", "web_url", "amp_url", "amp_cache_url",
    "category", "kind", "quality", "heat", "published", "provider", "topics", "images",
)
_EMPTY = (None, "", [])


def _fullness(version: tuple[dict[str, Any], str]) -> tuple[object, ...]:
    """Sort key: full before stub, then more fields, then longer text; then the JSON itself.

    The JSON text only decides between versions that tie on everything before, so the
    result never depends on the order versions arrive in.
    """
    record, text = version
    return (
        not record["is_stub"],
        sum(1 for name in _FILLABLE if record[name] not in _EMPTY),
        len(record["excerpt"]),
        len(record["topics"]) + len(record["images"]),
        record["published_at"] or "",  # ISO 8601 in UTC: sorts as time does
        text,
    )


def merge_json(versions: Iterable[str]) -> tuple[Article, str]:
    """One article, and its JSON, from all its versions (as `article_to_json` wrote them).

    The fullest version gives every field it has; the others, fullest first, fill only
    what it left empty. So a full file always wins over a stub of itself, and a stub
    never erases a field that a full file gave. Identical versions count once.
    """
    distinct = set(versions)
    if len(distinct) == 1:
        (text,) = distinct
        return article_from_record(json.loads(text)), text
    ordered = sorted(((json.loads(text), text) for text in distinct), key=_fullness,
                     reverse=True)
    best, best_text = ordered[0]
    missing = [name for name in _FILLABLE if best[name] in _EMPTY]
    filled = False
    for other, _text in ordered[1:]:
        for name in [name for name in missing if other[name] not in _EMPTY]:
            best[name] = other[name]
            missing.remove(name)
            filled = True
    return article_from_record(best), record_to_json(best) if filled else best_text


def merge_versions(versions: Iterable[Article]) -> Article:
    """`merge_json` for Article objects."""
    return merge_json(article_to_json(version) for version in versions)[0]
