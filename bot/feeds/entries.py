"""A feed document (RSS, RDF, Atom or JSON Feed bytes) → article records, or a FeedError.

No I/O: the caller hands in the body and the URL it came from. Records are the ones
`bot.parse` makes of a file's own article, so the store takes them the same way; a broken
entry is skipped and counted, and only a document that yields nothing is an error.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser  # type: ignore[import-untyped]  # feedparser ships no type hints
import orjson

from bot.articles import Record, canonical_url, is_http_url
from bot.feeds.safexml import entity_problem
from bot.feeds.topics import Tagger
from bot.parse import MAX_IMAGES, MAX_TOPICS, _visible
from bot.text import shorten

MAX_EXCERPT = 1_000  # a feed summary is often the whole post: an excerpt needs less
MAX_ENTRIES = 1_000  # more entries than any real feed carries; the rest are not read
_JSON_TYPES = frozenset({"application/feed+json", "application/json"})
_JSON_FEED_VERSION = "https://jsonfeed.org/version/1"
# sy:updatePeriod in minutes (RSS 1.0 syndication module).
_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200,
                   "yearly": 525600}
# Elements whose text is not prose: dropped from titles and excerpts.
_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object"})
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "tr", "td", "h1", "h2", "h3", "h4", "h5",
                         "h6", "blockquote", "pre", "hr", "figcaption"})


@dataclass(frozen=True, slots=True)
class FeedError:
    """A document that is not a feed, or yields nothing usable, and why."""

    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """What one feed document holds: about the feed, its articles, what was dropped."""

    title: str
    link: str | None  # the site's page, an http(s) URL
    domain: str
    ttl_minutes: int | None  # how long the publisher asks readers to wait between polls
    records: tuple[Record, ...]
    skipped: int
    skip_reasons: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Entry:
    """One entry in a format-free form, its text fields as the document gives them."""

    title: str | None  # HTML
    link: str | None
    summary: str | None  # HTML
    content: str | None  # HTML
    published: datetime | None
    updated: datetime | None
    categories: tuple[str, ...]
    images: tuple[tuple[str, int | None, int | None], ...]  # media and image enclosures


@dataclass(frozen=True, slots=True)
class _Feed:
    """A whole document in a format-free form."""

    title: str | None
    link: str | None
    ttl_minutes: int | None
    entries: tuple[_Entry, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Context:
    """What every entry of one document is read with."""

    url: str
    provider: list[str]
    topic_hint: str | None
    tagger: Tagger
    now: datetime


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str | None,
    topic_hint: str | None,
    known_topics: Sequence[str] = (),
    now: datetime,
) -> FeedDocument | FeedError:
    """Parse one feed document fetched from `url` at `now` (aware); never raises for any body.

    `topic_hint` is given to every article (an OPML category); `known_topics` are the
    store's topic names, which the tagger finds in titles and excerpts.
    """
    if not body.strip():
        return FeedError("not a feed: the document is empty")
    feed = _read_json(body) if _is_json(body, content_type) else _read_xml(body, content_type, url)
    if isinstance(feed, FeedError):
        return feed
    link = _absolute(feed.link, url)
    domain = _domain(link or url)
    title = _plain(feed.title) or domain
    context = _Context(url, [title, domain], _plain(topic_hint), Tagger(known_topics), now)
    warnings = list(feed.warnings)
    records: dict[str, Record] = {}
    reasons: list[str] = []
    for position, entry in enumerate(feed.entries, 1):
        record = _record(entry, context, _prefixed(warnings, f"entry {position}: "))
        if isinstance(record, str):
            reasons.append(record)
        elif record["url"] in records:
            warnings.append(f"entry {position}: the same article as an earlier entry; dropped")
        else:
            records[record["url"]] = record
    if not records:
        return FeedError(_nothing_usable(reasons))
    return FeedDocument(title, link, domain, feed.ttl_minutes, tuple(records.values()),
                        len(reasons), tuple(reasons), tuple(warnings))


def _prefixed(warnings: list[str], prefix: str) -> Callable[[str], None]:
    """A warn function that adds to `warnings` with `prefix`."""
    return lambda text: warnings.append(prefix + text)


def _nothing_usable(reasons: list[str]) -> str:
    if not reasons:
        return "no usable entries: the feed has no entries"
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    detail = ", ".join(reason if len(counts) == 1 else f"{count} {reason}"
                       for reason, count in counts.items())
    return f"no usable entries: {len(reasons)} skipped ({detail})"


# --- XML (feedparser) ---------------------------------------------------------------------


def _is_json(body: bytes, content_type: str | None) -> bool:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    media_type = (content_type or "").split(";")[0].strip().lower()
    return start in (b"{", b"[") or (media_type in _JSON_TYPES and start != b"<")


def _read_xml(body: bytes, content_type: str | None, url: str) -> _Feed | FeedError:
    problem = entity_problem(body)
    if problem is not None:
        return FeedError(f"unsafe XML: {problem}")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        # A stream, never the bytes themselves: feedparser opens a bytes argument that
        # names an existing file.
        # No sanitising or URL rewriting in HTML: only its text and first image are kept,
        # and those are cleaned and resolved here.
        parsed = feedparser.parse(io.BytesIO(body), response_headers=headers,
                                  sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # feedparser reads untrusted bytes; any failure is the document's
        return FeedError(f"not a feed: the parser failed ({type(exc).__name__}: {exc})"[:300])
    bozo = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.get("version") and not parsed.get("entries"):
        why = f" ({_one_line(bozo)})" if bozo else ""
        return FeedError(f"not a feed: no RSS, RDF, Atom or JSON Feed document found{why}")
    warnings = [f"malformed XML ({_one_line(bozo)}); the entries that parse are kept"] \
        if bozo and not _harmless(bozo) else []
    channel = parsed.get("feed", {})
    return _Feed(
        title=_string(channel.get("title")),
        link=_string(channel.get("link")),
        ttl_minutes=_ttl(channel),
        entries=tuple(_xml_entry(entry) for entry in parsed["entries"][:MAX_ENTRIES]),
        warnings=tuple(warnings),
    )


def _harmless(exc: object) -> bool:
    """A complaint about the declared encoding only: feedparser read the document anyway."""
    return isinstance(exc, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:200]


def _xml_entry(entry: Any) -> _Entry:
    contents = entry.get("content") or []
    images = [_sized(item.get("url"), item) for item in entry.get("media_content") or []
              if _is_image(item.get("medium"), item.get("type"), item.get("url"))]
    images += [_sized(item.get("url"), item) for item in entry.get("media_thumbnail") or []]
    images += [_sized(link.get("href"), {}) for link in entry.get("links") or []
               if link.get("rel") == "enclosure" and _is_image(None, link.get("type"), None)]
    return _Entry(
        title=_string(entry.get("title")),
        link=_string(entry.get("link")),
        summary=_string(entry.get("summary")),
        content=_string(contents[0].get("value")) if contents else None,
        published=_struct_time(entry.get("published_parsed") or entry.get("created_parsed")),
        # The plain dict lookup: feedparser's own maps a missing `updated` to `published`.
        updated=_struct_time(dict.get(entry, "updated_parsed")),
        categories=tuple(_string(tag.get("term")) or _string(tag.get("label")) or ""
                         for tag in entry.get("tags") or []),
        images=tuple(image for image in images if image is not None),
    )


def _sized(url: object, media: Any) -> tuple[str, int | None, int | None] | None:
    """An image URL with the width and height that media:content or media:thumbnail give."""
    if not isinstance(url, str):
        return None
    return url, _size(media.get("width")), _size(media.get("height"))


def _size(value: object) -> int | None:
    number = _positive(value)
    return number if number is not None and number < 100_000 else None


def _is_image(medium: object, mime_type: object, url: object) -> bool:
    if medium is not None:
        return medium == "image"
    if mime_type is not None:
        return str(mime_type).lower().startswith("image/")
    return isinstance(url, str) and urlsplit(url).path.lower().endswith(
        (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif"))


def _struct_time(value: object) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _ttl(channel: Any) -> int | None:
    """The least minutes between polls the publisher asks for (`<ttl>` or `sy:update*`)."""
    ttl = _positive(channel.get("ttl"))
    period = _PERIOD_MINUTES.get(str(channel.get("sy_updateperiod", "")).strip().lower())
    frequency = _positive(channel.get("sy_updatefrequency")) or 1
    syndication = max(1, period // frequency) if period else None
    given = [minutes for minutes in (ttl, syndication) if minutes is not None]
    return max(given) if given else None


def _positive(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if 0 < number <= 10**7 else None


# --- JSON Feed ------------------------------------------------------------------------------


def _read_json(body: bytes) -> _Feed | FeedError:
    try:
        document = orjson.loads(body.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        return FeedError(f"not a feed: invalid JSON ({_one_line(exc)})")
    if not isinstance(document, dict):
        return FeedError("not a feed: JSON, but not an object")
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(_JSON_FEED_VERSION):
        return FeedError(f"not a feed: JSON without a JSON Feed version "
                         f"(expected {_JSON_FEED_VERSION}…)")
    items = document.get("items")
    if not isinstance(items, list):
        return FeedError("not a feed: JSON Feed without an `items` list")
    return _Feed(
        title=_string(document.get("title")),
        link=_string(document.get("home_page_url")),
        ttl_minutes=None,
        entries=tuple(_json_entry(item) for item in items[:MAX_ENTRIES]),
        warnings=(),
    )


def _json_entry(item: object) -> _Entry:
    if not isinstance(item, dict):
        item = {}
    attachments = item.get("attachments")
    images = [_sized(item.get("image"), {}), _sized(item.get("banner_image"), {})]
    if isinstance(attachments, list):
        images += [_sized(attachment.get("url"), {}) for attachment in attachments
                   if isinstance(attachment, dict)
                   and _is_image(None, attachment.get("mime_type"), None)]
    tags = item.get("tags")
    text = _string(item.get("content_text"))
    return _Entry(
        title=_string(item.get("title")),
        link=_string(item.get("url")) or _string(item.get("external_url")),
        summary=_string(item.get("summary")),
        content=_string(item.get("content_html")) or (_escape(text) if text else None),
        published=_iso_datetime(item.get("date_published")),
        updated=_iso_datetime(item.get("date_modified")),
        categories=tuple(tag for tag in tags if isinstance(tag, str))
        if isinstance(tags, list) else (),
        images=tuple(image for image in images if image is not None),
    )


def _escape(text: str) -> str:
    """Plain text as HTML, so that it reads back as itself."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _iso_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


# --- entry → record ------------------------------------------------------------------------


def _record(entry: _Entry, context: _Context, warn: Callable[[str], None]) -> Record | str:
    """The record of one entry; a reason if it is unusable."""
    title = _plain(entry.title)
    link = _absolute(entry.link, context.url) if entry.link else None
    if not title:
        return "no title"
    if link is None:
        return "no link" if not entry.link else "link is not an http(s) URL"
    summary = _html_text(entry.summary or entry.content or "")
    excerpt = shorten(summary.text, MAX_EXCERPT)
    published_at = entry.published or entry.updated or context.now
    if published_at > context.now:
        warn(f"dated {published_at.isoformat()}, in the future; dated now")
        published_at = context.now
    url = canonical_url(link)
    topics = [*entry.categories, context.topic_hint or "",
              *context.tagger.topics(f"{title}\n{excerpt}")]
    # The keys and their order are those of a file's own article (see `bot.parse`).
    return {
        "url": url,
        "title": title,
        "excerpt": excerpt,
        "published_at": published_at.astimezone(UTC).isoformat(),
        "original_url": link,
        "web_url": link,
        "amp_url": None,
        "amp_cache_url": None,
        "category": None,
        "kind": None,
        "quality": None,
        "heat": None,
        "published": None,
        "provider": list(context.provider),
        "topics": _topics(topics),
        "images": _images(entry, summary.image, context.url),
        "is_stub": False,
        "related_count": 0,
        "path": context.url,
    }


def _topics(candidates: Iterable[str]) -> list[str]:
    topics: dict[str, str] = {}  # casefolded → first display form seen
    for candidate in candidates:
        topic = _plain(candidate)
        if topic and len(topic) <= 100:
            topics.setdefault(topic.casefold(), topic)
    return list(topics.values())[:MAX_TOPICS]


def _images(entry: _Entry, inline: str | None, base: str) -> list[list[Any]]:
    images: list[list[Any]] = []
    first_img = inline or _html_text(entry.content or "").image
    for candidate, width, height in (*entry.images, (first_img, None, None)):
        url = _absolute(candidate, base)
        if url and all(image[0] != url for image in images):
            images.append([url, width, height])
    return images[:MAX_IMAGES]


def _absolute(link: str | None, base: str) -> str | None:
    """`link` resolved against `base`, if that is an http(s) URL."""
    if not link:
        return None
    try:
        resolved = urljoin(base, link.strip())
    except ValueError:  # e.g. an unbalanced `[` in the host
        return None
    return resolved if is_http_url(resolved) else None


def _domain(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _plain(value: str | None) -> str | None:
    """Text as one line of visible characters: HTML tags dropped, entities decoded,
    whitespace squeezed; None if nothing is left."""
    if not value:
        return None
    if "<" not in value and "&" not in value:  # most titles and tags: no markup to parse
        return _visible(" ".join(value.split()))
    return _visible(_html_text(value).text)


@dataclass(frozen=True, slots=True)
class _Text:
    """The prose of some HTML, and its first image."""

    text: str
    image: str | None


def _html_text(html: str) -> _Text:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return _Text(" ".join("".join(extractor.parts).split()), extractor.image)


class _TextExtractor(HTMLParser):
    """Collects the text of HTML outside scripts and styles, and the first <img src>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.image: str | None = None
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")
        elif tag == "img" and self.image is None:
            self.image = dict(attrs).get("src")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)
