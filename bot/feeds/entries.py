"""A feed document (RSS, RDF, Atom or JSON Feed bytes) → article records, or a FeedError.

No I/O: the caller hands in the body and the URL it came from. Records are the ones
`bot.parse` makes of a file's own article, so the store takes them the same way; a broken
entry is skipped and counted, and only a document that yields nothing is an error.
"""

from __future__ import annotations

import codecs
import io
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import fastfeedparser  # type: ignore[import-untyped]  # ships no type hints
import feedparser  # type: ignore[import-untyped]  # feedparser ships no type hints
import orjson
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints

from bot.articles import Record, canonical_url, is_http_url
from bot.feeds.safexml import entity_problem
from bot.feeds.topics import Tagger
from bot.parse import MAX_IMAGES, MAX_TOPICS
from bot.text import shorten, visible

MAX_EXCERPT = 1_000  # a feed summary is often the whole post: an excerpt needs less
MAX_ENTRIES = 1_000  # more entries than any real feed carries; the rest are not read
_JSON_TYPES = frozenset({"application/feed+json", "application/json"})
_JSON_FEED_VERSION = "https://jsonfeed.org/version/1"
# sy:updatePeriod in minutes (RSS 1.0 syndication module).
_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200,
                   "yearly": 525600}
# Elements whose text is not prose: dropped from titles and excerpts.
_HIDDEN_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object"})
# fastfeedparser reads a document only under these bounds; feedparser reads the rest as before.
# Its lxml tree lifts libxml2's limits and costs many times the bytes it is built from for
# each tag, so a document dense with tags would take a worker's memory; feedparser streams.
_MAX_FAST_TAGS = 100_000
# libxml2 opens a DTD named by a DOCTYPE's file path (a FIFO or /dev/stdin hangs it) to look
# for an entity the document uses, whatever the parser's options: a document with a DOCTYPE,
# or in an encoding that could hide one from a search of its bytes, goes to feedparser.
_DOCTYPE = re.compile(rb"<!doctype", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([^"']*)["']""")
_SAFE_ENCODINGS = frozenset({"utf-8", "ascii", "iso8859-1", "utf-16", "utf-16-le", "utf-16-be",
                             "cp1252", "iso8859-15"})
_LEADING = b"\xef\xbb\xbf\xff\xfe \t\r\n"
# The well-formedness check keeps libxml2's limits (depth, text size), loads no DTD, resolves
# no entity and never touches the network.
_CHECKER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, collect_ids=False)
# What fastfeedparser reads otherwise than feedparser: XHTML text, xml:base (it ignores it),
# and media:content beside media:thumbnail (it drops the thumbnail).
_XHTML = re.compile(rb"""type\s*=\s*["']xhtml["']|xml:base""")
_MEDIA_CONTENT = re.compile(rb"<[\w.-]+:content[\s/>]")
_SY = "{http://purl.org/rss/1.0/modules/syndication/}"
_RSS1 = "{http://purl.org/rss/1.0/}"
_ATOM_NAMESPACES = ("{http://www.w3.org/2005/Atom}", "{http://purl.org/atom/ns#}")
_ITEMS = ("item", f"{_RSS1}item", *(f"{ns}entry" for ns in _ATOM_NAMESPACES))
_LINKS = frozenset({"link", f"{_RSS1}link", *(f"{ns}link" for ns in _ATOM_NAMESPACES)})
_DATES = frozenset({"pubDate", "published", "issued", "created", "date", "updated",
                    "modified", "lastBuildDate"})
_CHANNELS = ("channel", f"{_RSS1}channel")
_BLOCK_TAGS = frozenset({"p", "br", "div", "li", "tr", "td", "h1", "h2", "h3", "h4", "h5",
                         "h6", "blockquote", "pre", "hr", "figcaption"})
# A plain start or end tag: a name of letters and digits, attributes with quoted or plain
# values. HTML made of text and these alone reads as HTMLParser reads it: its text is what
# lies between the tags, entities decoded. Anything else (comments, CDATA, a stray `<`,
# a namespaced name) goes to HTMLParser.
_PLAIN_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9]*)"
    r"(?:\s+[^\s\"'<>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>=`]+))?)*\s*/?>")


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


# --- XML (fastfeedparser, else feedparser) ----------------------------------------------


def _is_json(body: bytes, content_type: str | None) -> bool:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    media_type = (content_type or "").split(";")[0].strip().lower()
    return start in (b"{", b"[") or (media_type in _JSON_TYPES and start != b"<")


def _read_xml(body: bytes, content_type: str | None, url: str) -> _Feed | FeedError:
    problem = entity_problem(body)
    if problem is not None:
        return FeedError(f"unsafe XML: {problem}")
    fast = _read_fast(body, content_type)
    return fast if fast is not None else _read_loose(body, content_type, url)


def _read_fast(body: bytes, content_type: str | None) -> _Feed | None:
    """A well-formed document read by fastfeedparser; None where feedparser must read it:
    malformed XML (it keeps the entries that parse and says so), a charset that differs
    from the document's own, a shape fastfeedparser reads differently, or no entries."""
    if not _fast_readable(body):
        return None
    try:
        root = etree.fromstring(body, _CHECKER)
    except etree.XMLSyntaxError:
        return None
    if not _charset_agrees(content_type, root.getroottree().docinfo.encoding):
        return None
    items = _plain_items(root)
    if items is None:
        return None
    try:
        full = fastfeedparser.parse(body)
        # Without content, a missing summary is not made up from the content's text.
        bare = fastfeedparser.parse(body, include_content=False)
    except Exception:  # untrusted bytes: whatever it cannot read, feedparser reads
        return None
    entries = full.get("entries") or []
    if not entries or not len(entries) == len(bare.get("entries") or []) == items:
        return None
    channel = full.get("feed") or {}
    return _Feed(
        title=_string(channel.get("title")),
        link=_string(channel.get("link")),
        ttl_minutes=_ttl(_syndication(root)),
        entries=tuple(_fast_entry(entry, plain)
                      for entry, plain in zip(entries[:MAX_ENTRIES], bare["entries"],
                                              strict=False)),
        warnings=(),
    )


def _fast_readable(body: bytes) -> bool:
    """Whether fastfeedparser may see `body`: no DOCTYPE, a plain encoding, bounded tags,
    and nothing it reads otherwise than feedparser."""
    markup = body.replace(b"\x00", b"").lstrip(_LEADING)  # UTF-16 as its ASCII markup
    declared = _DECLARED_ENCODING.match(markup)
    try:
        encoding = codecs.lookup(declared[1].decode("ascii")).name if declared else "utf-8"
    except (LookupError, UnicodeDecodeError):
        return False
    return (markup.startswith(b"<") and encoding in _SAFE_ENCODINGS
            and not _DOCTYPE.search(markup) and body.count(b"<") <= _MAX_FAST_TAGS
            and not _XHTML.search(markup)
            and not (b"thumbnail" in markup and _MEDIA_CONTENT.search(markup)))


def _plain_items(root: Any) -> int | None:
    """How many entries the document holds; None if one of them lacks a link, or has a guid
    but no date, or both categories and subjects: the parsers then find a link or a date in
    different places, or list the topics in another order."""
    count = 0
    for item in root.iter(*_ITEMS):
        count += 1
        tags = {child.tag for child in item if isinstance(child.tag, str)}
        names = {tag.rpartition("}")[2] for tag in tags}
        if not tags & _LINKS or ("guid" in names and not names & _DATES) or (
                "category" in names and "subject" in names):
            return None
    return count


def _charset_agrees(content_type: str | None, encoding: str | None) -> bool:
    """Whether the charset the server names (if any) is the one the document was read in."""
    declared = next((part.split("=", 1)[1].strip(" \"'") for part in
                     (content_type or "").split(";")[1:]
                     if part.strip().lower().startswith("charset=")), None)
    if declared is None:
        return True
    try:
        return codecs.lookup(declared).name == codecs.lookup(encoding or "utf-8").name
    except LookupError:
        return False


def _syndication(root: Any) -> dict[str, str | None]:
    """The feed-level `<ttl>` and `sy:update*` values, as feedparser names them."""
    channel = next((found for name in _CHANNELS if (found := root.find(name)) is not None),
                   root)
    return {"ttl": channel.findtext("ttl"),
            "sy_updateperiod": channel.findtext(f"{_SY}updatePeriod"),
            "sy_updatefrequency": channel.findtext(f"{_SY}updateFrequency")}


def _fast_entry(entry: Any, plain: Any) -> _Entry:
    contents = entry.get("content") or []
    images = [_sized(item.get("url"), item) for item in entry.get("media_content") or []
              if _is_image(item.get("medium"), item.get("type"), item.get("url"))]
    images += [_sized(item.get("url"), {}) for item in entry.get("enclosures") or []
               if _is_image(None, item.get("type"), None)]
    images += [_sized(link.get("href"), {}) for link in entry.get("links") or []
               if link.get("rel") == "enclosure" and _is_image(None, link.get("type"), None)]
    return _Entry(
        title=_string(entry.get("title")),
        link=_string(entry.get("link")),
        summary=_string(plain.get("description")),
        content=_string(contents[0].get("value")) if contents else None,
        published=_iso_datetime(entry.get("published")),
        updated=_iso_datetime(entry.get("updated")),
        categories=tuple(_string(tag.get("term")) or _string(tag.get("label")) or ""
                         for tag in entry.get("tags") or []),
        images=tuple(image for image in images if image is not None),
    )


def _read_loose(body: bytes, content_type: str | None, url: str) -> _Feed | FeedError:
    """The document read by feedparser, which reads any encoding and malformed XML too."""
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
    # The summary's HTML was read for `inline`; the content is read only if it is other HTML.
    read_already = not entry.summary or entry.content == entry.summary
    first_img = inline or (None if read_already else _html_text(entry.content or "").image)
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
        return visible(" ".join(value.split()))
    return visible(_html_text(value).text)


@dataclass(frozen=True, slots=True)
class _Text:
    """The prose of some HTML, and its first image."""

    text: str
    image: str | None


def _html_text(html: str) -> _Text:
    if "<" not in html and "&" not in html:  # plain text: nothing for a parser to do
        return _Text(" ".join(html.split()), None)
    plain = _plain_html_text(html)
    if plain is not None:
        return plain
    extractor = _extracted(html)
    return _Text(" ".join("".join(extractor.parts).split()), extractor.image)


def _extracted(html: str) -> _TextExtractor:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return extractor


def _plain_html_text(html: str) -> _Text | None:
    """`_html_text` of HTML made of text and plain tags only (most feeds' summaries), read
    with one regular expression instead of HTMLParser's Python loop; None for other HTML."""
    parts: list[str] = []
    image: str | None = None
    end = 0
    for tag in _PLAIN_TAG.finditer(html):
        text = html[end : tag.start()]
        if "<" in text:
            return None
        parts.append(unescape(text))
        end = tag.end()
        name = tag[2].lower()
        if name in _BLOCK_TAGS:
            parts.append(" ")
        elif name in _HIDDEN_TAGS:
            return None
        elif name == "img" and image is None and not tag[1]:
            image = _extracted(tag[0]).image  # its attributes, as HTMLParser reads them
    rest = html[end:]
    if "<" in rest:
        return None
    parts.append(unescape(rest))
    return _Text(" ".join("".join(parts).split()), image)


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
