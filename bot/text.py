"""Text helpers for untrusted text: strip control characters, cut at a word, echo input."""

from __future__ import annotations

import re

ELLIPSIS = "…"
# C0/C1 control characters (but not newline and tab) and bidi overrides that can
# rewrite a terminal or disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Characters that show nothing: in a heading or a message they only hide what was typed.
# Kept in article text, where zero-width joiners are part of some scripts and emoji.
_INVISIBLE = re.compile(r"[\u061c\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")
ECHO_LIMIT = 100  # characters of typed text or a title repeated in a heading or message


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


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` fit to repeat in a one-line heading or message: visible characters only, runs
    of whitespace as one space, cut to `limit` characters."""
    visible = _INVISIBLE.sub("", plain(text))
    return shorten(_SPACES.sub(" ", visible).strip(), limit)


def counted(total: int, noun: str, *, more: bool = False) -> str:
    """`3 articles`, `1 article`, or `1000+ articles` when only counted up to `total`."""
    plus = "+" if more else ""
    return f"{total}{plus} {noun}{'' if total == 1 and not more else 's'}"


def page_of(offset: int, page_size: int, total: int, *, more: bool = False) -> str:
    """`2 of 5` (or `2 of 200+`): which page `offset` is on."""
    pages = max(1, -(-total // page_size))
    return f"{offset // page_size + 1} of {pages}{'+' if more else ''}"
