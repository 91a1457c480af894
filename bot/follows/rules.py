"""What a follow asks for, and whether an article is it: keywords, phrases, exclusions."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.exceptions import NewsBotError
from bot.text import echo

MAX_TERMS = 20
MAX_TERM_LENGTH = 50
SEPARATOR = " · "
# Phone keyboards type curly quotes; a phrase may be quoted with any of them.
_QUOTES = str.maketrans(dict.fromkeys("“”„‟″«»", '"'))
_SEPARATORS = re.compile(r"[\s,]+")
# Scripts written without spaces between words: each character is a word of its own, so a
# term in them matches wherever its characters stand together (a phrase of characters).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"


def _mark_ranges() -> str:
    """A regex class body of the combining marks (vowel signs, accents) of planes 0 and 1.

    Python's \\w leaves them out, which would cut a Devanagari or Arabic word in pieces.
    """
    ranges: list[tuple[int, int]] = []
    for code in range(0x20000):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    ranges.append((0xE0100, 0xE01EF))  # variation selectors supplement
    return "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


_LETTER = rf"[^\W{_CJK}]"
# A word: letters, digits and underscores with their combining marks, plus a trailing run
# of "+" or "#" so that "C++" and "C#" stay what they are; possessive, so that "c++17" is
# "c" and "17" rather than "c+" and "17". Other punctuation ("-", ".", "'") separates:
# "GPT-4o" is the words "gpt" "4o", and a term typed as "gpt-4o" is that phrase.
_WORD = re.compile(rf"[{_CJK}]|{_LETTER}(?:{_LETTER}|[{_mark_ranges()}])*(?:[+#]++(?!\w))?")


class FollowRuleError(NewsBotError):
    """A follow's keywords or criteria cannot be used; the message says what to type instead."""


# English news is ASCII but for these few; as separators they can be spaces, which lets
# most texts take the byte-table path below.
_COMMON_PUNCTUATION = ("\u2019", "\u2018", "\u201c", "\u201d", "\u2013", "\u2014", "\u2026",
                       "\u00a0")
# ASCII letters, digits and "_" lowercased, everything else a space: the same words as
# _WORD finds in ASCII text without "+" or "#", in a fraction of the time.
_ASCII_WORDS = bytes(
    (code if chr(code).isalnum() or code == 0x5F else 0x20) for code in range(128)
).lower() + b" " * 128


def words_of(text: str) -> list[str]:
    """The words of `text` as matching sees them: compatibility-normalized, casefolded."""
    plain = text
    if not plain.isascii():
        for char in _COMMON_PUNCTUATION:
            plain = plain.replace(char, " ")
    if plain.isascii() and "+" not in plain and "#" not in plain:
        return plain.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


# In words_in_a_row's list: after each title's words and each excerpt's, so that a phrase
# cannot run across; never a word (words are letters and digits).
TITLE_END = "|"
# Written after title and excerpt for _BATCH_WORDS to turn into TITLE_END; in a text it is
# a separator as every control character is, turned into a space first.
_TEXT_END = "\x01"
# Latin-1 letters that are as they are after NFKC and casefold to one Latin-1 letter: "é",
# "Ü" ("ß" is "ss", "ª" is "a", "µ" is Greek).
_LATIN_LETTERS = frozenset(range(0xC0, 0x100)) - {0xD7, 0xDF, 0xF7}
# _ASCII_WORDS for Latin-1: those letters casefolded as well, and _TEXT_END to TITLE_END.
_BATCH_WORDS = bytes(
    ord(TITLE_END) if code == ord(_TEXT_END)
    else ord(chr(code).casefold()) if code in _LATIN_LETTERS
    else _ASCII_WORDS[code] for code in range(256))
# The characters _BATCH_WORDS gives the same words for as words_of: "+" and "#" may belong
# to one ("c++"), other Latin-1 characters change under NFKC or casefold.
_TAKEN = np.array([(code < 0x80 and chr(code) not in "+#") or code in _LATIN_LETTERS
                   for code in range(256)])
_TAKEN_BYTES = bytes(np.flatnonzero(_TAKEN).tolist())


def _all_taken(plain: str) -> bool:
    """Whether _BATCH_WORDS takes every character of `plain` (usually: quickly said)."""
    if plain.isascii():
        return "+" not in plain and "#" not in plain
    try:
        latin = plain.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not latin.translate(None, _TAKEN_BYTES)


def _untaken(plain: str, ends: np.ndarray) -> list[int]:
    """The texts (by their ends in `plain`) holding a character _BATCH_WORDS cannot take,
    in order."""
    codes = np.frombuffer(plain.encode("utf-32-le"), dtype=np.uint32)
    odd = np.flatnonzero((codes > 0xFF) | ~_TAKEN[np.minimum(codes, 0xFF)])
    held: list[int] = np.unique(np.searchsorted(ends, odd, side="right")).tolist()
    return held


def words_in_a_row(titles: Sequence[str], excerpts: Sequence[str]) -> list[str]:
    """The words of many articles' titles and excerpts as words_of sees them, in one list:
    each title's words, TITLE_END, its excerpt's words, TITLE_END.

    Texts of ASCII and Latin-1 letters (most news) are normalized in one pass over all of
    them; each character stands for one there, so that a text is a slice of the result.
    A change to words_of (its _WORD) must be made here too: a property test of any texts
    (tests/test_follow_rules.py) holds the two to the same words.
    """
    texts = zip(titles, excerpts, strict=True)
    joined = [f"{title} {_TEXT_END} {excerpt} {_TEXT_END} " for title, excerpt in texts]
    plain = "".join(joined)
    if plain.count(_TEXT_END) != 2 * len(joined):
        plain = "".join(f"{title.replace(_TEXT_END, ' ')} {_TEXT_END} "
                        f"{excerpt.replace(_TEXT_END, ' ')} {_TEXT_END} "
                        for title, excerpt in zip(titles, excerpts, strict=True))
    if not plain.isascii():
        for char in _COMMON_PUNCTUATION:
            plain = plain.replace(char, " ")
    ends = np.cumsum([len(text) for text in joined])
    odd = [] if _all_taken(plain) else _untaken(plain, ends)
    # "replace": a character Latin-1 lacks becomes one "?", so that the places stay.
    normalized = plain.encode("latin-1", "replace").translate(_BATCH_WORDS).decode("latin-1")
    if not odd:
        return normalized.split()
    # The few others word by word, in their places.
    pieces: list[str] = []
    start = 0  # where the run of texts read from `normalized` begins
    for index in odd:
        pieces += [normalized[start:int(ends[index]) - len(joined[index])],
                   *words_of(titles[index]), TITLE_END, *words_of(excerpts[index]), TITLE_END]
        start = int(ends[index])
    pieces.append(normalized[start:])
    return " ".join(pieces).split()


@dataclass(frozen=True, slots=True)
class Terms:
    """Words and phrases, any of which is enough (or, as exclusions, any of which is too much)."""

    words: tuple[str, ...] = ()  # casefolded single words
    phrases: tuple[tuple[str, ...], ...] = ()  # casefolded word sequences ("quoted phrase")

    def __bool__(self) -> bool:
        return bool(self.words or self.phrases)

    def text(self) -> str:
        """Back to what a person types: 'llama, "open weights"'."""
        return ", ".join([*self.words, *(f'"{" ".join(phrase)}"' for phrase in self.phrases)])

    def __len__(self) -> int:
        return len(self.words) + len(self.phrases)


def _raw_terms(text: str) -> list[str]:
    """The terms as typed: quoted parts whole, the rest split at commas and spaces."""
    parts = text.translate(_QUOTES).split('"')
    if len(parts) % 2 == 0:
        opened = '"'.join(parts[-1:]).strip() or "…"
        raise FollowRuleError(
            f'"{echo(opened, 40)} has no closing quote: end a phrase with a second ", '
            'like "open weights"')
    terms: list[str] = []
    for index, part in enumerate(parts):
        if index % 2:
            terms.append(part.strip())
        else:
            terms += _SEPARATORS.split(part)
    return [term for term in terms if term]


def _terms(raw_terms: Iterable[str], *, limits: bool) -> Terms:
    words: dict[str, None] = {}  # dicts: first occurrence kept, in order
    phrases: dict[tuple[str, ...], None] = {}
    for raw in raw_terms:
        if limits and len(raw) > MAX_TERM_LENGTH:
            raise FollowRuleError(
                f"'{echo(raw, 40)}' is {len(raw)} characters, at most {MAX_TERM_LENGTH}: "
                "type a shorter word or phrase")
        found = tuple(words_of(raw))
        if not found:
            raise FollowRuleError(
                f"'{echo(raw, 40)}' has no letters or digits to match: type words, "
                'like llama or "open weights"')
        if len(found) == 1:
            words[found[0]] = None
        else:
            phrases[found] = None
    terms = Terms(tuple(words), tuple(phrases))
    if limits and len(terms) > MAX_TERMS:
        raise FollowRuleError(
            f"{len(terms)} keywords or phrases given, at most {MAX_TERMS}: keep the ones that "
            "matter most, or follow a topic or provider instead")
    return terms


def parse_terms(text: str) -> Terms:
    """'llama, mistral' = any of them; "a quoted phrase" is a phrase; commas and spaces separate.

    A term of several words without quotes ("gpt-4o") is a phrase of them too. Repeats count
    once. Raises FollowRuleError on an unclosed quote, more than 20 terms, a term longer than
    50 characters or one with nothing to match (only punctuation or emoji).
    """
    return _terms(_raw_terms(text), limits=True)


def _stored_terms(text: str) -> Terms:
    # No limits: normalizing may lengthen a term ("ß" is "ss"), and a limit lowered later
    # must not make stored follows unreadable.
    return _terms(_raw_terms(text), limits=False)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A new article, as the matcher needs it."""

    id: int
    title: str
    excerpt: str
    topic_keys: frozenset[str]
    provider_domain: str | None


def _contains(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    return any(words[start:start + len(part)] == part for start in range(len(words)))


@dataclass(frozen=True, slots=True)
class FollowRule:
    """A follow's filter: every given criterion must hold, and no exclude term may occur."""

    topic_key: str | None = None  # casefolded topic name as the store keys topics (topics.key)
    provider_domain: str | None = None  # providers.domain
    keywords: Terms = Terms()
    exclude: Terms = Terms()

    @classmethod
    def checked(cls, *, topic_key: str | None = None, provider_domain: str | None = None,
                keywords: str = "", exclude: str = "") -> FollowRule:
        """The rule a person asked for, with `keywords` and `exclude` as typed.

        Raises FollowRuleError when the text cannot be parsed, when none of topic, provider
        and keywords is given, or when an exclusion rules out a keyword entirely.
        """
        rule = cls(topic_key or None, provider_domain or None,
                   parse_terms(keywords), parse_terms(exclude))
        if rule.topic_key is None and rule.provider_domain is None and not rule.keywords:
            raise FollowRuleError(
                "a follow needs a topic, a provider or keywords: add topic:, provider: or "
                "keywords: (exclude: only narrows one of them)")
        rule._check_no_dead_keyword()
        return rule

    def _check_no_dead_keyword(self) -> None:
        excluded = [(word,) for word in self.exclude.words] + list(self.exclude.phrases)
        for term in [(word,) for word in self.keywords.words] + list(self.keywords.phrases):
            for out in excluded:
                if _contains(term, out):
                    raise FollowRuleError(
                        f"keyword {_shown(term)} is excluded by {_shown(out)}: an article "
                        "with it would never be posted; remove it from keywords or exclude")

    def to_json(self) -> str:
        return json.dumps({"topic": self.topic_key, "provider": self.provider_domain,
                           "keywords": self.keywords.text(), "exclude": self.exclude.text()},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> FollowRule:
        """The rule `to_json` wrote; FollowRuleError if `text` is not one."""
        try:
            fields: Any = json.loads(text)
            topic, provider = fields["topic"], fields["provider"]
            keywords, exclude = fields["keywords"], fields["exclude"]
        except (ValueError, TypeError, KeyError) as error:
            raise FollowRuleError(
                f"stored follow rule {echo(text, 60)!r} is not one this bot wrote ({error}): "
                "remove the follow and add it again") from error
        if not all(isinstance(v, str) or v is None for v in (topic, provider)) or not all(
                isinstance(v, str) for v in (keywords, exclude)):
            raise FollowRuleError(
                f"stored follow rule {echo(text, 60)!r} has fields of the wrong type: "
                "remove the follow and add it again")
        try:
            return cls(topic, provider, _stored_terms(keywords), _stored_terms(exclude))
        except FollowRuleError as error:
            raise FollowRuleError(
                f"stored follow rule {echo(text, 60)!r} cannot be read ({error}): "
                "remove the follow and add it again") from error

    def describe(self, topic_name: str | None, provider_name: str | None) -> str:
        """One line as shown to users: 'topic AI Hardware · provider Hugging Face · any of
        llama, "open weights" · not rumor'."""
        parts: list[str] = []
        if self.topic_key is not None:
            parts.append(f"topic {echo(topic_name or self.topic_key)}")
        if self.provider_domain is not None:
            parts.append(f"provider {echo(provider_name or self.provider_domain)}")
        if self.keywords:
            lead = "keyword" if len(self.keywords) == 1 else "any of"
            parts.append(f"{lead} {self.keywords.text()}")
        if self.exclude:
            lead = "not" if len(self.exclude) == 1 else "none of"
            parts.append(f"{lead} {self.exclude.text()}")
        return SEPARATOR.join(parts) or "everything"


def _shown(term: tuple[str, ...]) -> str:
    return term[0] if len(term) == 1 else f'"{" ".join(term)}"'
