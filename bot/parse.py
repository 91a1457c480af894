"""Front matter text → validated article records, or a ParseError naming the file and why.

No I/O: the caller hands in the bytes. Fields that are merely odd are coerced or dropped
with a warning; only a file that cannot be used at all is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from bot.articles import Article, Record, article_from_record, canonical_url, is_http_url
from bot.text import visible
from bot.yamlsafe import YamlError, available_backend, loader_for

DEFAULT_MAX_BYTES = 1024 * 1024
MAX_TOPICS = 50
MAX_RELATED = 100
MAX_IMAGES = 20
MAX_TEXT = 10_000  # excerpts longer than this are cut: no summary needs more
_BLANK_TITLE = "no title (the title is blank or only invisible characters)"
_MAX_NUMBER = 1e12  # a larger quality or heat is absurd, and would overflow the ranking

# The closing line of the front matter: `---` (Jekyll) or `...` (YAML's end of document),
# found from the newline before it: a pattern that starts with a literal is searched many
# times faster than one anchored with a MULTILINE `^`.
_FRONT_MATTER_END = re.compile(r"\n(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)
_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True, slots=True)
class ParseError:
    """A file that cannot be used, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Parsed:
    """A usable article, its related stubs, and what had to be coerced or dropped to get them."""

    record: Record
    related: tuple[Record, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def article(self) -> Article:
        """The article as an Article, with its related stubs."""
        return article_from_record(
            self.record, related=tuple(article_from_record(stub) for stub in self.related)
        )


def oversized(path: str, size: int, max_bytes: int) -> ParseError:
    """The error for a file over the size limit."""
    return ParseError(path, f"file is {size} bytes, over the {max_bytes}-byte limit")


def parse_article(
    data: bytes | str,
    path: str = "<text>",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backend: str = "auto",
) -> Parsed | ParseError:
    """Parse one article file's content; never raises for any input."""
    size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    if size > max_bytes:
        return oversized(path, size, max_bytes)
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return ParseError(path, f"not UTF-8 (bad byte at offset {exc.start})")
    else:
        text = data
    try:
        front = _front_matter(text)
        fields = loader_for(available_backend(backend))(front)
    except _Unusable as exc:
        return ParseError(path, str(exc))
    except YamlError as exc:
        where = exc.describe(_first_yaml_line(text))
        return ParseError(path, f"YAML error {where}" if exc.at else f"YAML error: {where}")
    except (ValueError, TypeError, OverflowError) as exc:  # odd scalars some parsers reject late
        return ParseError(path, f"YAML error: {exc}")
    if not isinstance(fields, dict):
        return ParseError(path, f"front matter is {_kind(fields)}, not a mapping of fields")
    warnings: list[str] = []
    try:
        record = _record(fields, warnings.append, is_stub=False)
        if isinstance(record, str):
            return ParseError(path, record)
        related = _related(fields.get("related"), record["url"], warnings.append)
    except (ValueError, OverflowError) as exc:  # e.g. an integer too long to turn into text
        return ParseError(path, f"unusable value: {exc}")
    # Which of several files for one article wins depends on these (see `bot.merge`); in the
    # record, every merge of the article's versions sees them, stored or new.
    record["related_count"] = len(related)
    record["path"] = path
    return Parsed(record, related, tuple(warnings))


class _Unusable(Exception):
    """Raised inside this module for a file that has no usable front matter."""


def _front_matter(text: str) -> str:
    """The YAML between the opening and closing `---` lines."""
    text = text.removeprefix("\ufeff")
    stripped = text.lstrip("\r\n\t ")
    first_line_end = stripped.find("\n")
    if stripped[: first_line_end if first_line_end >= 0 else None].rstrip() != "---":
        raise _Unusable("no front matter (the file must start with a `---` line)")
    end = _FRONT_MATTER_END.search(stripped, first_line_end) if first_line_end >= 0 else None
    if end is None:
        raise _Unusable("front matter is not closed (no second `---` line)")
    return stripped[first_line_end + 1 : end.start()]


def _first_yaml_line(text: str) -> int:
    """The file line (1-based) that the front matter's YAML starts on: the one after the
    opening `---`, which blank lines may precede."""
    text = text.removeprefix("\ufeff")
    leading = len(text) - len(text.lstrip("\r\n\t "))
    return text.count("\n", 0, leading) + 2


def _kind(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, list):
        return "a list"
    return f"a single {type(value).__name__} value"


Warn = Callable[[str], None]


def _record(fields: dict[Any, Any], warn: Warn, *, is_stub: bool) -> Record | str:
    """The record of one mapping (a file's or a related stub's); a reason if unusable."""
    given = fields.get("title")
    title = visible(_text(given, "title", warn))
    if not title:
        return "no title" if given is None else _BLANK_TITLE
    original_url = _url(fields.get("originalUrl"), "originalUrl", warn)
    web_url = _url(fields.get("webUrl"), "webUrl", warn)
    identity = original_url or web_url
    if identity is None:
        return "no usable URL (originalUrl and webUrl are missing or not http(s))"
    url = canonical_url(identity)
    provider = _provider(fields.get("provider"), url, warn)
    excerpt = (_text(fields.get("excerpt"), "excerpt", warn) or "")[:MAX_TEXT]
    published_at = _datetime(fields.get("publishedDateTime"), warn)
    # The keys and their order are `article_record`'s, and a file's own article adds two
    # (see `parse_article`): a record's JSON is what is stored.
    return {
        "url": url,
        "title": title,
        "excerpt": excerpt,
        "published_at": published_at.isoformat() if published_at else None,
        "original_url": original_url,
        "web_url": web_url,
        "amp_url": _url(fields.get("ampWebUrl"), "ampWebUrl", warn),
        "amp_cache_url": _url(fields.get("cdnAmpWebUrl"), "cdnAmpWebUrl", warn),
        "category": _text(fields.get("category"), "category", warn),
        "kind": _text(fields.get("type"), "type", warn),
        "quality": _integer(fields.get("quality"), "quality", warn),
        "heat": _integer(fields.get("heat"), "heat", warn),
        "published": _boolean(fields.get("published"), warn),
        "provider": provider,
        "topics": _topics(fields.get("topics"), warn),
        "images": _images(fields.get("images"), warn),
        "is_stub": is_stub,
    }


def _text(value: object, name: str, warn: Warn) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        # Most text is single-spaced already. When a string is printable (so that its only
        # whitespace is plain spaces), has no two together and none at either end, it is its
        # own cleaned form: checking that takes half the time of splitting an excerpt.
        if (value.isprintable() and "  " not in value
                and not value.startswith(" ") and not value.endswith(" ")):
            return value or None
        cleaned = " ".join(value.split())
        return cleaned or None
    if isinstance(value, bool | int | float | date):
        # YAML read `title: 2022` or `title: no` as a number or boolean; the text was meant.
        return str(value).lower() if isinstance(value, bool) else str(value)
    warn(f"{name}: expected text, got {type(value).__name__}; ignored")
    return None


def _url(value: object, name: str, warn: Warn) -> str | None:
    if value is None or value == "":
        return None
    candidate = value.strip() if isinstance(value, str) else value
    if is_http_url(candidate):
        return candidate  # type: ignore[return-value]
    warn(f"{name}: {str(value)[:80]!r} is not an http(s) URL; dropped")
    return None


def _datetime(value: object, warn: Warn) -> datetime | None:
    if value is None:
        warn("publishedDateTime: missing")
        return None
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace(" UTC", "Z"))
        except ValueError:
            parsed = None
    if parsed is None:
        warn(f"publishedDateTime: {str(value)[:40]!r} is not an ISO-8601 date; ignored")
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)  # the format is UTC when it says nothing
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        warn(f"publishedDateTime: {value!s:.40} is out of range; ignored")
        return None


def _integer(value: object, name: str, warn: Warn) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        warn(f"{name}: expected a number, got {value}; ignored")
        return None
    if isinstance(value, int) and abs(value) <= _MAX_NUMBER:
        return value
    try:
        number = float(str(value).strip()) if not isinstance(value, float) else value
        if number != number or abs(number) > _MAX_NUMBER:  # NaN or absurd
            raise ValueError
        return round(number)
    except (ValueError, TypeError, OverflowError):
        warn(f"{name}: {str(value)[:40]!r} is not a number; ignored")
        return None


def _boolean(value: object, warn: Warn) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    warn(f"published: {str(value)[:40]!r} is not true or false; ignored")
    return None


def _provider(value: object, url: str, warn: Warn) -> list[str]:
    """[name, domain]; `url` is the article's canonical URL."""
    name: str | None = None
    domain: str | None = None
    if isinstance(value, dict):
        name = _text(value.get("name"), "provider.name", warn)
        domain = _text(value.get("domain"), "provider.domain", warn)
    elif value is not None:
        name = _text(value, "provider", warn)
    # Without a domain of its own, the provider is the article's own host.
    domain = domain.lower().removeprefix("www.").strip("./") if domain else url.split("/")[2]
    return [name or domain, domain]


def _listed(value: object, name: str, warn: Warn) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    warn(f"{name}: expected a list, got {type(value).__name__}; read as a one-item list")
    return [value]


def _topics(value: object, warn: Warn) -> list[str]:
    if isinstance(value, str):
        warn("topics: a string, not a list; split at commas")
        value = value.split(",")
    topics: dict[str, str] = {}  # casefolded → first display form seen
    for item in _listed(value, "topics", warn):
        topic = _text(item, "topics item", warn)
        if topic and len(topic) <= 100:
            topics.setdefault(topic.casefold(), topic)
        elif topic:
            warn(f"topics: {topic[:40]!r}… is over 100 characters; dropped")
    if len(topics) > MAX_TOPICS:
        warn(f"topics: {len(topics)} topics, kept the first {MAX_TOPICS}")
    return list(topics.values())[:MAX_TOPICS]


def _images(value: object, warn: Warn) -> list[list[Any]]:
    """[url, width, height] each."""
    images: list[list[Any]] = []
    for item in _listed(value, "images", warn)[:MAX_IMAGES]:
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict):
            warn(f"images: expected a mapping, got {type(item).__name__}; dropped")
            continue
        url = _url(item.get("url"), "images.url", warn)
        if url:
            width = _integer(item.get("width"), "images.width", warn)
            height = _integer(item.get("height"), "images.height", warn)
            images.append([url, _positive(width), _positive(height)])
    return images


def _positive(value: int | None) -> int | None:
    return value if value is not None and 0 < value < 100_000 else None


def _prefixed(warn: Warn, prefix: str) -> Warn:
    """`warn`, with each message after `prefix` (which related stub it is about)."""
    return lambda message: warn(prefix + message)


def _related(value: object, own_url: str, warn: Warn) -> tuple[Record, ...]:
    stubs: dict[str, Record] = {}
    for position, item in enumerate(_listed(value, "related", warn)[:MAX_RELATED], 1):
        if not isinstance(item, dict):
            warn(f"related #{position}: expected a mapping; dropped")
            continue
        stub = _record(item, _prefixed(warn, f"related #{position}: "), is_stub=True)
        if isinstance(stub, str):
            warn(f"related #{position}: {stub}; dropped")
        elif stub["url"] != own_url:  # an article is not related to itself
            stubs.setdefault(stub["url"], stub)
    return tuple(stubs.values())

