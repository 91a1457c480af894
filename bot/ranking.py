"""The ranking score: one number mixing recency, editorial quality and popularity.

score = ln(quality_weight * heat_weight * curated_weight)
        + ln(2) * age_in_days / HALF_LIFE_DAYS,
with age measured from the Unix epoch. Because the recency part grows linearly with the
publication time, ordering by the score equals ordering by "weight halved every
HALF_LIFE_DAYS of age" at any moment, so the score is computed once, stored and indexed.
"""

from __future__ import annotations

import math

HALF_LIFE_DAYS = 2.0
DEFAULT_QUALITY = 50  # stubs and older files often carry no quality
CURATED_BONUS = 1.25  # `published: true` marks the source's own pick
_LN2 = math.log(2)


def rank_score(
    quality: int | None, heat: int | None, curated: bool | None, published_at: float | None
) -> float:
    """Higher is better; an article two days older needs twice the weight to tie.

    `curated` is the article's `published` flag; `published_at` is in Unix seconds.
    """
    quality = quality if quality is not None else DEFAULT_QUALITY
    quality_weight = max(quality, 1) / DEFAULT_QUALITY
    heat = heat if heat is not None and heat > 0 else 0
    heat_weight = 1 + math.log10(1 + heat) / 2  # heat -1 means unknown: neutral
    curated_weight = CURATED_BONUS if curated else 1.0
    days = published_at / 86_400 if published_at is not None else 0.0
    return math.log(quality_weight * heat_weight * curated_weight) + _LN2 * days / HALF_LIFE_DAYS
