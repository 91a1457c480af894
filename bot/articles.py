"""The Article model and URL canonicalisation: what one news article is, and when two are one."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

import orjson

# Query parameters that only track where a click came from; they never make a new article.
TRACKING_PARAMS = frozenset({"td", "ocid", "fbclid", "gclid", "mc_cid", "mc_eid", "ref", "cmpid"})
TRACKING_PREFIXES = ("utm_",)


@dataclass(frozen=True, slots=True)
class Provider:
    """Who published an article: display name and web domain (either may be empty)."""

    name: str
    domain: str


@dataclass(frozen=True, slots=True)
class Image:
    """An article image; sizes are unknown (None) for older files."""

    url: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """One news article, either full (from its own file) or a stub (from a `related` list).

    `url` is the canonical URL and the article's identity; `article_id` is set only on
    articles read back from the store.
    """

    url: str
    title: str
    excerpt: str = ""
    published_at: datetime | None = None
    original_url: str | None = None
    web_url: str | None = None
    amp_url: str | None = None
    amp_cache_url: str | None = None
    category: str | None = None
    kind: str | None = None
    quality: int | None = None
    heat: int | None = None
    published: bool | None = None
    provider: Provider | None = None
    topics: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    related: tuple[Article, ...] = field(default=(), repr=False)
    is_stub: bool = False
    article_id: int | None = None

    @property
    def link(self) -> str:
        """The page to send a reader to: the publisher's original, else the web page,
        without tracking parameters."""
        for candidate in (self.original_url, self.web_url):
            if candidate and is_http_url(candidate):
                return without_tracking(candidate)
        return self.url

    @property
    def amp_link(self) -> str | None:
        """The AMP page to send a reader to, without tracking parameters."""
        return without_tracking(self.amp_url) if self.amp_url else None

    @property
    def amp_cache_link(self) -> str | None:
        """The AMP cache copy to send a reader to, without tracking parameters."""
        return without_tracking(self.amp_cache_url) if self.amp_cache_url else None


def is_tracking(key: str) -> bool:
    """True for a query parameter that only tracks where a click came from."""
    key = key.lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def without_tracking(url: str) -> str:
    """`url` without its tracking parameters; everything else (path case, the other
    parameters, their order and spelling, the fragment) as written."""
    base, hash_mark, fragment = url.partition("#")
    head, question_mark, query = base.partition("?")
    if not question_mark:
        return url
    items = query.split("&")
    kept = [item for item in items if item and not is_tracking(unquote_plus(item.split("=")[0]))]
    if len(kept) == len(items):
        return url
    return f"{head}{'?' if kept else ''}{'&'.join(kept)}{hash_mark}{fragment}"


# scheme://[userinfo@]host[:port][/?#rest], with no whitespace or control character anywhere.
# One compiled pattern: this check runs for every URL of every file on each load.
_HTTP_URL = re.compile(
    r"(?i:https?)://"
    r"(?:[^\s\x00-\x1f\x7f/?#@]*@)?"
    r"(?:\[[0-9A-Fa-f:.]+\]|[^\s\x00-\x1f\x7f/?#:@\[\]]+)"
    r"(?::(?P<port>\d{1,5}))?"
    r"(?:[/?#][^\s\x00-\x1f\x7f]*)?"
)


# Most URLs are `scheme://host/rest` with a plain host and printable ASCII after it: the
# general pattern accepts every one of them, and this one, all ranges, checks them about
# three times as fast (a corpus load checks about five URLs per version).
_PLAIN_HTTP_URL = re.compile(r"[hH][tT][tT][pP][sS]?://[A-Za-z0-9.-]+(?:[/?#][!-~]*)?")


def is_http_url(value: object) -> bool:
    """True for an absolute http(s) URL with a host, the only kind that may reach Discord."""
    if not isinstance(value, str) or len(value) > 2048:
        return False
    return _PLAIN_HTTP_URL.fullmatch(value) is not None or general_is_http_url(value)


def general_is_http_url(value: str) -> bool:
    """`is_http_url` for any text of at most 2,048 characters: the general case, and the
    fast path's spec."""
    match = _HTTP_URL.fullmatch(value)
    if match is None:
        return False
    port = match.group("port")
    if port is not None and not 0 < int(port) <= 65535:
        return False
    if "[" in value and "[" in value.split("/", 3)[2]:  # a bracketed IPv6 host: urlsplit judges
        try:
            urlsplit(value)
        except ValueError:
            return False
    return True


# Most URLs are plain `scheme://host/path`, perhaps with a query of plain words: no port,
# user, fragment or odd character. Their canonical form needs no parsing, and a corpus load
# canonicalises about five per file.
_PLAIN_URL = re.compile(r"(?i:https?)://([A-Za-z0-9.-]+)(/[^?#\s]*)?(?:\?([\w.~=&-]*))?", re.ASCII)


@functools.lru_cache(maxsize=1 << 16)  # the same stubs recur across many files of a corpus
def canonical_url(url: str) -> str:
    """The identity of the page at `url`.

    Scheme and host case, `www.`, default ports, tracking parameters, fragments and
    trailing slashes don't make a new article; http and https are the same page.
    """
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None:
        host, path, query = plain.groups()
        kept = _kept_query(query) if query else ""
        if kept is not None:
            base = f"https://{host.lower().removeprefix('www.')}{(path or '').rstrip('/')}"
            return f"{base}?{kept}" if kept else base
    return parsed_canonical_url(url)


def _kept_query(query: str) -> str | None:
    """A query of plain words as `parsed_canonical_url` leaves it; None if one is not plain."""
    pairs = []
    for item in query.split("&"):
        key, _, value = item.partition("=")
        if "=" in value:
            return None  # quoted when encoded again: leave it to the general case
        if item and key.lower() not in TRACKING_PARAMS and not key.lower().startswith(
            TRACKING_PREFIXES
        ):
            pairs.append((key, value))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def parsed_canonical_url(url: str) -> str:
    """`canonical_url` by parsing the URL in full: the general case, and the fast path's spec."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if not is_tracking(key)]
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("https", netloc, path, urlencode(sorted(query)), ""))


# An article as a plain record: the form its JSON is written from and read into. Parsing
# builds records directly, since a corpus load only encodes them (as JSON and as rows).
Record = dict[str, Any]


def article_to_json(article: Article) -> str:
    """A compact JSON form of everything but `related` and `article_id` (stored per version)."""
    return record_to_json(article_record(article))


def article_record(article: Article) -> Record:
    """The plain record that `article_to_json` encodes."""
    return {
        "url": article.url,
        "title": article.title,
        "excerpt": article.excerpt,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "original_url": article.original_url,
        "web_url": article.web_url,
        "amp_url": article.amp_url,
        "amp_cache_url": article.amp_cache_url,
        "category": article.category,
        "kind": article.kind,
        "quality": article.quality,
        "heat": article.heat,
        "published": article.published,
        "provider": [article.provider.name, article.provider.domain] if article.provider else None,
        "topics": list(article.topics),
        "images": [[image.url, image.width, image.height] for image in article.images],
        "is_stub": article.is_stub,
    }


def article_from_json(text: str, article_id: int | None = None) -> Article:
    """The Article that `article_to_json` stored."""
    return article_from_record(record_from_json(text), article_id)


def record_from_json(text: str) -> Record:
    """The record that `record_to_json` wrote (orjson reads it in about half the json
    module's time, which counts when a sync settles tens of thousands of articles)."""
    record: Record = orjson.loads(text)
    return record


def record_to_json(record: Record) -> str:
    """The JSON text of a decoded `article_to_json` record, in the same form.

    orjson writes exactly what `json.dumps(record, ensure_ascii=False, separators=(",",
    ":"))` writes, five times faster: a corpus load encodes every version of every file.
    """
    return orjson.dumps(record).decode()


def article_from_record(
    record: Record, article_id: int | None = None, related: tuple[Article, ...] = ()
) -> Article:
    """The Article of a decoded `article_to_json` record (or of a parsed one, with its
    related stubs)."""
    published_at = record["published_at"]
    provider = record["provider"]
    return Article(
        url=record["url"],
        title=record["title"],
        excerpt=record["excerpt"],
        published_at=datetime.fromisoformat(published_at) if published_at else None,
        original_url=record["original_url"],
        web_url=record["web_url"],
        amp_url=record["amp_url"],
        amp_cache_url=record["amp_cache_url"],
        category=record["category"],
        kind=record["kind"],
        quality=record["quality"],
        heat=record["heat"],
        published=record["published"],
        provider=Provider(*provider) if provider else None,
        topics=tuple(record["topics"]),
        images=tuple(Image(*image) for image in record["images"]),
        related=related,
        is_stub=record["is_stub"],
        article_id=article_id,
    )
