"""Text helpers for untrusted text: strip control characters, trim invisible ends, cut at a
word, echo input."""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"
# C0/C1 control characters (but not newline and tab) and bidi overrides that can
# rewrite a terminal or disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Characters that show nothing: in a heading or a message they only hide what was typed.
# Kept in article text, where zero-width joiners are part of some scripts and emoji.
_INVISIBLE = re.compile(r"[\u061c\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")
# Characters that show nothing: controls, format characters (zero-width spaces and joiners,
# word joiner, BOM, bidi marks, tags), spaces and line or paragraph separators...
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# ...and the letters and marks that render blank although Unicode calls them printable:
# Hangul fillers, the blank braille pattern, the combining grapheme joiner, variation selectors.
_BLANK_PRINTABLES = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
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


def visible(text: str | None) -> str | None:
    """`text` without the invisible characters at its ends; None if nothing visible is left.

    Inner ones stay: a zero-width joiner inside an emoji sequence is part of it.
    """
    if not text:
        return None
    # Printable text can hold no invisible character but the few `_BLANK_PRINTABLES`.
    if text.isprintable() and text[0] not in _BLANK_PRINTABLES \
            and text[-1] not in _BLANK_PRINTABLES:
        return text
    start, end = 0, len(text)
    while start < end and _invisible(text[start]):
        start += 1
    while end > start and _invisible(text[end - 1]):
        end -= 1
    return text[start:end] or None


def _invisible(char: str) -> bool:
    return char in _BLANK_PRINTABLES or unicodedata.category(char) in _INVISIBLE_CATEGORIES
