"""OPML feed lists: the shipped default list, nested outlines, round trips, bad documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.articles import is_http_url
from bot.feeds.opml import FeedEntry, OpmlError, read_opml, write_opml

DEFAULT_LIST = ROOT / "seeds" / "feeds.opml"
# Topic names the corpus already uses (the seeds and bench/generate.py): the default list's
# hints should land on them.
CORPUS_TOPICS = {
    "AI", "AI Research", "AI Hardware", "Machine Learning", "NLP", "OpenAI", "DeepMind",
    "Google AI", "Microsoft AI", "Nvidia AI", "Amazon AI", "Apple AI", "Facebook AI",
}


def feeds(data: str | bytes) -> list[FeedEntry]:
    result = read_opml(data)
    assert isinstance(result, list), result
    return result


def test_the_default_list_holds_20_to_30_real_ai_feeds() -> None:
    default = feeds(DEFAULT_LIST.read_bytes())
    assert 20 <= len(default) <= 30
    assert all(is_http_url(feed.url) and feed.title for feed in default)
    assert {feed.topic_hint for feed in default} <= CORPUS_TOPICS
    urls = {feed.url for feed in default}
    assert {f"https://export.arxiv.org/rss/cs.{name}" for name in ("AI", "LG", "CL")} <= urls
    assert len(urls) == len(default)


def test_nested_outlines_folders_and_categories() -> None:
    text = """<?xml version="1.0"?>
    <opml version="1.0"><head><title>Mine</title></head><body>
      <outline text="Research">
        <outline text="Labs">
          <outline type="rss" text="Lab" xmlUrl="https://lab.example.com/feed"/>
        </outline>
        <outline type="rss" text="Papers" title="Paper feed" xmlurl="https://papers.example.com/rss"
                 category="/Science/AI Research, Other"/>
      </outline>
      <outline type="rss" text="Loose" XMLURL="https://loose.example.com/atom"/>
      <outline text="Duplicate" xmlUrl="https://lab.example.com/feed/?utm_source=opml"/>
    </body></opml>"""
    assert feeds(text) == [
        FeedEntry("https://lab.example.com/feed", "Lab", "Labs"),  # the folder it is in
        FeedEntry("https://papers.example.com/rss", "Paper feed", "AI Research"),
        FeedEntry("https://loose.example.com/atom", "Loose", None),
    ]


def test_round_trip() -> None:
    listed = [
        FeedEntry("https://a.example.com/feed", "A & B <news>", "AI Hardware",
                  "https://a.example.com/"),
        FeedEntry("https://b.example.com/rss?x=1&y=2", None, None),
        FeedEntry("https://c.example.com/atom", "Quotes \" and ' too", "Generative AI"),
    ]
    written = write_opml(listed)
    assert written.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    # A feed without a title is listed under its URL.
    assert feeds(written) == [listed[0],
                              FeedEntry("https://b.example.com/rss?x=1&y=2",
                                        "https://b.example.com/rss?x=1&y=2"),
                              listed[2]]
    assert feeds(write_opml(feeds(DEFAULT_LIST.read_bytes()))) == feeds(DEFAULT_LIST.read_bytes())


def test_text_xml_cannot_hold_is_left_out_when_writing() -> None:
    written = write_opml([FeedEntry("https://a.example.com/feed", "Bell\x07 title")])
    assert feeds(written)[0].title == "Bell title"


@pytest.mark.parametrize(("document", "reason"), [
    ("", "not OPML: XML error"),
    ("<opml><body>", "not OPML: XML error (no element found: line 1, column 12)"),
    ('<rss version="2.0"><channel/></rss>', "not OPML: the document is <rss>, not <opml>"),
    ("<opml><head/></opml>", "not OPML: no <body> element"),
    ('<opml><body><outline text="Old" xmlUrl="feed://old.example.com/rss"/></body></opml>',
     "outline 1 (Old): xmlUrl 'feed://old.example.com/rss' is not an http(s) URL; "
     "fix or remove it"),
    ('<opml><body><outline text="Folder"><outline xmlUrl="javascript:alert(1)"/></outline>'
     "</body></opml>",
     "outline 2: xmlUrl 'javascript:alert(1)' is not an http(s) URL; fix or remove it"),
])
def test_bad_opml_is_a_clear_error(document: str, reason: str) -> None:
    result = read_opml(document)
    assert isinstance(result, OpmlError)
    assert result.reason.startswith(reason)


def test_opml_declaring_entities_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("OPML-SECRET")
    document = (f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY s SYSTEM "file://{secret}">'
                '<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
                '<opml><body><outline text="&s; &lol2;" xmlUrl="https://x.example.com/"/>'
                "</body></opml>")
    for data in (document, document.encode("utf-16")):
        result = read_opml(data)
        assert isinstance(result, OpmlError)
        assert result.reason.startswith("unsafe XML: the document declares entities")
        assert "OPML-SECRET" not in str(result)


def test_an_empty_list_is_no_error() -> None:
    assert feeds(write_opml([])) == []


@settings(max_examples=150, deadline=None)
@given(data=st.one_of(st.binary(max_size=500), st.text(max_size=500)))
def test_any_input_gives_feeds_or_an_error(data: bytes | str) -> None:
    result = read_opml(data)
    assert isinstance(result, list | OpmlError)
