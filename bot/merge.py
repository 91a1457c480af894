"""Merging the versions of one article (full files and related stubs) into one, order-free."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from bot.articles import Article

# Fields a version may leave empty and another version may fill.
_FILLABLE = (
    "excerpt", "published_at", "original_url", "web_url", "amp_url", "amp_cache_url",
    "category", "kind", "quality", "heat", "published", "provider", "topics", "images",
)


def _filled(article: Article) -> int:
    return sum(1 for name in _FILLABLE if getattr(article, name) not in (None, "", ()))


def _fullness(article: Article) -> tuple[object, ...]:
    """Sort key: full before stub, then more fields, then longer text; then every field.

    The trailing fields only decide between versions that tie on everything before, so
    the result never depends on the order versions arrive in.
    """
    provider = article.provider
    return (
        not article.is_stub,
        _filled(article),
        len(article.excerpt),
        len(article.topics) + len(article.images),
        article.published_at.timestamp() if article.published_at else 0.0,
        article.title,
        article.excerpt,
        *(str(getattr(article, name)) for name in _FILLABLE[2:11]),
        (provider.name, provider.domain) if provider else ("", ""),
        article.topics,
        tuple((image.url, image.width or 0, image.height or 0) for image in article.images),
    )


def merge_versions(versions: Iterable[Article]) -> Article:
    """One article from all its versions, the same whatever order they come in.

    The fullest version gives every field it has; the others, fullest first, fill only
    what it left empty. So a full file always wins over a stub of itself, and a stub
    never erases a field that a full file gave.
    """
    ordered = list(versions)
    if len(ordered) > 1:
        ordered.sort(key=_fullness, reverse=True)
    best = ordered[0]
    missing = {name for name in _FILLABLE if getattr(best, name) in (None, "", ())}
    fills: dict[str, object] = {}
    for other in ordered[1:]:
        for name in list(missing):
            value = getattr(other, name)
            if value not in (None, "", ()):
                fills[name] = value
                missing.discard(name)
        if not missing:
            break
    return dataclasses.replace(best, related=(), **fills) if fills or best.related else best
