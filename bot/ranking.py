"""The ranking score: one number mixing recency, editorial quality and popularity.

score = ln(quality_weight * heat_weight * curated_weight)
        + ln(2) * age_in_days / HALF_LIFE_DAYS,
with age measured from the Unix epoch. Because the recency part grows linearly with the
publication time, ordering by the score equals ordering by "weight halved every
HALF_LIFE_DAYS of age" at any moment, so the score is computed once, stored and indexed.
"""

from __future__ import annotations

import math

from bot.articles import Article

HALF_LIFE_DAYS = 2.0
DEFAULT_QUALITY = 50  # stubs and older files often carry no quality
CURATED_BONUS = 1.25  # `published: true` marks the source's own pick
_LN2 = math.log(2)


def rank_score(article: Article) -> float:
    """Higher is better; an article two days older needs twice the weight to tie."""
    quality = article.quality if article.quality is not None else DEFAULT_QUALITY
    quality_weight = max(quality, 1) / DEFAULT_QUALITY
    heat = article.heat if article.heat is not None and article.heat > 0 else 0
    heat_weight = 1 + math.log10(1 + heat) / 2  # heat -1 means unknown: neutral
    curated_weight = CURATED_BONUS if article.published else 1.0
    days = article.published_at.timestamp() / 86_400 if article.published_at else 0.0
    return math.log(quality_weight * heat_weight * curated_weight) + _LN2 * days / HALF_LIFE_DAYS
