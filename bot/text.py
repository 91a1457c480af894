"""Text helpers for untrusted article text: strip control characters, cut at a word."""

from __future__ import annotations

import re

ELLIPSIS = "…"
# C0/C1 control characters (but not newline and tab) and bidi overrides that can
# rewrite a terminal or disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """`text` without control characters, safe to print to a terminal or a log."""
    return _CONTROL.sub("", text)


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[:limit]
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit // 2:  # a word boundary not too far back; else cut mid-word
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS
