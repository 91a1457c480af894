"""OPML feed lists: read (safely, like feeds) into feed entries, and write back."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.articles import canonical_url, is_http_url
from bot.feeds.safexml import entity_problem
from bot.text import echo

# Characters XML 1.0 cannot hold at all, not even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One feed of a list: its URL, a title to show, and a topic for its articles."""

    url: str
    title: str | None = None
    topic_hint: str | None = None
    html_url: str | None = None


@dataclass(frozen=True, slots=True)
class OpmlError:
    """An OPML document that cannot be read, and why."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def read_opml(data: str | bytes) -> list[FeedEntry] | OpmlError:
    """The feeds an OPML document lists, each once, in order; never raises for any input."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    problem = entity_problem(raw)
    if problem is not None:
        return OpmlError(f"unsafe XML: {problem}")
    try:
        root = ET.fromstring(raw)  # noqa: S314  # entity declarations are refused above
    except ET.ParseError as exc:
        return OpmlError(f"not OPML: XML error ({exc})")
    if _name(root.tag) != "opml":
        return OpmlError(f"not OPML: the document is <{echo(_name(root.tag), 40)}>, not <opml>")
    body = next((child for child in root if _name(child.tag) == "body"), None)
    if body is None:
        return OpmlError("not OPML: no <body> element")
    feeds: dict[str, FeedEntry] = {}
    for position, (outline, folder) in enumerate(_outlines(body, None), 1):
        entry = _entry(outline, folder)
        if isinstance(entry, str):
            return OpmlError(f"outline {position}{entry}")
        if entry is not None:
            feeds.setdefault(canonical_url(entry.url), entry)
    return list(feeds.values())


def _name(tag: object) -> str:
    """An element's name without its namespace (OPML has none, but some writers add one)."""
    return str(tag).rpartition("}")[2].lower()


def _outlines(parent: ET.Element, folder: str | None) -> Iterator[tuple[ET.Element, str | None]]:
    """Every outline under `parent`, depth first, with the title of the folder it is in."""
    for child in parent:
        if _name(child.tag) != "outline":
            continue
        yield child, folder
        attributes = _attributes(child)
        yield from _outlines(child, attributes.get("text") or attributes.get("title") or folder)


def _attributes(outline: ET.Element) -> dict[str, str]:
    # Writers differ on the case of attribute names (xmlUrl, xmlurl, XMLURL).
    return {key.lower(): " ".join(value.split()) for key, value in outline.attrib.items()}


def _entry(outline: ET.Element, folder: str | None) -> FeedEntry | str | None:
    """The feed an outline names; None for a folder; a reason if its URL is unusable."""
    attributes = _attributes(outline)
    url = attributes.get("xmlurl")
    if not url:
        return None
    title = attributes.get("title") or attributes.get("text") or None
    if not is_http_url(url):
        named = f" ({echo(title, 60)})" if title else ""
        return f"{named}: xmlUrl {echo(url, 80)!r} is not an http(s) URL; fix or remove it"
    html_url = attributes.get("htmlurl")
    return FeedEntry(url, title, _category(attributes.get("category")) or folder,
                     html_url if is_http_url(html_url) else None)


def _category(value: str | None) -> str | None:
    """The topic of an OPML `category`: its first category's last `/` part."""
    for category in (value or "").split(","):
        name = category.strip().rstrip("/").rpartition("/")[2].strip()
        if name:
            return name
    return None


def write_opml(feeds: Iterable[FeedEntry], title: str = "AI News Bot feeds") -> str:
    """An OPML 2.0 document listing `feeds`, which `read_opml` reads back as they are."""
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = _xml_text(title)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        name = _xml_text(feed.title or feed.url)
        attributes = {"type": "rss", "text": name, "title": name, "xmlUrl": feed.url}
        if feed.html_url:
            attributes["htmlUrl"] = feed.html_url
        if feed.topic_hint:
            attributes["category"] = _xml_text(feed.topic_hint)
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)
