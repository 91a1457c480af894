"""The entity guard for untrusted XML: a document that declares entities is never parsed.

Feeds and OPML files never need a DTD's entities, while entity declarations are what
expansion bombs ("billion laughs") and external entities (local files, URLs) are made of.
feedparser strips only some declarations, and the parsers behind it differ on the rest, so
the declarations are looked for on the raw bytes before any parser sees them.
"""

from __future__ import annotations

import re

# A name starting an element: where the prolog (declaration, comments, DOCTYPE) ends.
_ELEMENT_START = re.compile(r"<[^\W\d]", re.UNICODE)
_ENTITY = re.compile(r"<!ENTITY", re.IGNORECASE)
_DOCTYPE = "<!DOCTYPE"
_BOM_CHARACTERS = "\ufeff\xef\xbb\xbf\xff\xfe"
_EBCDIC_XML_START = b"\x4c\x6f\xa7\x94"  # `<?xm` in EBCDIC, which feedparser also reads


def entity_problem(data: bytes) -> str | None:
    """Why `data` must not be parsed (it declares entities), or None when it declares none."""
    for text in _readings(data):
        if _ENTITY.search(text, 0, _prolog_end(text)):
            return ("the document declares entities in a DOCTYPE (<!ENTITY …>); "
                    "feeds never need them, so it was not parsed")
    return None


def _readings(data: bytes) -> list[str]:
    """The document as text, read so that its ASCII markup shows in any encoding a parser
    may pick: without the NUL bytes that UTF-16 and UTF-32 put beside ASCII characters,
    and as EBCDIC when it starts like EBCDIC XML."""
    readings = [data.replace(b"\x00", b"").decode("latin-1").lstrip(_BOM_CHARACTERS)]
    if data.startswith(_EBCDIC_XML_START):
        readings.append(data.decode("cp037"))
    return readings


def _prolog_end(text: str) -> int:
    """Where the first element starts: after the XML declaration, processing instructions,
    comments and the DOCTYPE (with its internal subset) that may come before it."""
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if text.startswith("<?", position):
            position = _after(text, "?>", position)
        elif text.startswith("<!--", position):
            position = _after(text, "-->", position)
        elif text[position : position + len(_DOCTYPE)].upper() == _DOCTYPE:
            position = _doctype_end(text, position + len(_DOCTYPE))
        else:
            break
    # A parser that gives up on the prolog reads on to the first element-like tag: check
    # at least that far.
    first_tag = _ELEMENT_START.search(text)
    return max(position, first_tag.start() if first_tag else len(text))


def _after(text: str, closing: str, position: int) -> int:
    end = text.find(closing, position)
    return len(text) if end < 0 else end + len(closing)


def _doctype_end(text: str, position: int) -> int:
    """Just after the `>` closing a DOCTYPE, skipping quoted text and the `[…]` subset."""
    quote = ""
    in_subset = False
    for index in range(position, len(text)):
        char = text[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "[":
            in_subset = True
        elif char == "]":
            in_subset = False
        elif char == ">" and not in_subset:
            return index + 1
    return len(text)
