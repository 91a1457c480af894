"""Feed documents → article records: every format, encodings, odd entries, unsafe XML."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import AMD_FILE, AMD_URL, ROOT, SEEDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.articles import article_from_record, is_http_url
from bot.feeds.entries import MAX_EXCERPT, FeedDocument, FeedError, parse_feed
from bot.parse import Parsed, parse_article

FEEDS = Path(__file__).resolve().parent / "feeds"
NOW = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)
KNOWN = ("AI", "AI Hardware", "Microsoft AI", "Generative AI", "Facebook AI")


def parse(name: str, *, url: str = "https://feeds.example.com/feed.xml",
          content_type: str | None = None, topic_hint: str | None = None,
          known: tuple[str, ...] = KNOWN) -> FeedDocument | FeedError:
    return parse_bytes((FEEDS / name).read_bytes(), url=url, content_type=content_type,
                       topic_hint=topic_hint, known=known)


def parse_bytes(body: bytes, *, url: str = "https://feeds.example.com/feed.xml",
                content_type: str | None = None, topic_hint: str | None = None,
                known: tuple[str, ...] = KNOWN) -> FeedDocument | FeedError:
    return parse_feed(body, url=url, content_type=content_type, topic_hint=topic_hint,
                      known_topics=known, now=NOW)


def document(name: str, **options: Any) -> FeedDocument:
    result = parse(name, **options)
    assert isinstance(result, FeedDocument), result
    return result


def by_title(doc: FeedDocument) -> dict[str, dict[str, Any]]:
    return {record["title"]: record for record in doc.records}


# --- formats ----------------------------------------------------------------------------


def test_rss_20_entries_become_full_article_records() -> None:
    doc = document("rss20.xml", url="https://www.theregister.com/headlines.rss",
                   content_type="application/rss+xml; charset=utf-8")
    assert (doc.title, doc.link, doc.domain) == (
        "The Register - AI + ML", "https://www.theregister.com/software/ai_ml/", "theregister.com")
    assert doc.ttl_minutes == 30
    assert doc.warnings == ()  # a well-formed feed: nothing to report
    nvidia = by_title(doc)["Nvidia readies its next GPU for datacenter AI training"]
    assert nvidia["url"] == "https://theregister.com/2024/03/18/nvidia_blackwell"
    assert nvidia["original_url"] == nvidia["web_url"] == (
        "https://www.theregister.com/2024/03/18/nvidia_blackwell/?utm_source=rss&utm_medium=feed")
    assert nvidia["published_at"] == "2024-03-18T20:15:00+00:00"
    assert nvidia["excerpt"] == "Jensen Huang shows off the B200 accelerator at GTC."
    assert nvidia["provider"] == ["The Register - AI + ML", "theregister.com"]
    assert nvidia["images"] == [["https://regmedia.co.uk/2024/03/18/blackwell.jpg", 900, 506]]
    assert nvidia["topics"][:2] == ["Hardware", "Nvidia"]  # the entry's own categories first
    assert "AI Hardware" in nvidia["topics"]
    assert nvidia["is_stub"] is False
    # The same record a file gives: an Article can be built from it.
    article = article_from_record(nvidia)
    assert article.link == "https://www.theregister.com/2024/03/18/nvidia_blackwell/"


def test_rss_relative_link_resolved_and_image_enclosure_kept() -> None:
    doc = document("rss20.xml", url="https://www.theregister.com/headlines.rss")
    study = by_title(doc)["Study: chatbots still make things up"]
    assert study["original_url"] == "https://www.theregister.com/2024/03/17/chatbot_study/"
    assert study["published_at"] == "2024-03-17T08:00:00+00:00"  # +0100 in the feed
    # The image enclosure is kept, the audio one is not.
    assert study["images"] == [["https://regmedia.co.uk/2024/03/17/chatbot.png", None, None]]


def test_broken_entries_are_skipped_and_counted_others_kept() -> None:
    doc = document("rss20.xml")
    assert doc.skipped == 2
    assert sorted(doc.skip_reasons) == ["link is not an http(s) URL", "no title"]
    assert len(doc.records) == 3
    for record in doc.records:  # the `javascript:` entry is gone, nothing but http(s) is left
        assert "javascript" not in str(record)
        assert all(is_http_url(value) for value in (record["original_url"], record["web_url"]))


def test_entry_duplicating_a_seed_article_has_the_seeds_canonical_url() -> None:
    seed = parse_article((SEEDS / AMD_FILE).read_bytes(), AMD_FILE)
    assert isinstance(seed, Parsed)
    doc = document("rss20.xml")
    amd = by_title(doc)[seed.record["title"]]
    assert "utm_source" in amd["original_url"]
    assert amd["url"] == seed.record["url"] == AMD_URL


def test_rss_091_with_its_netscape_doctype_is_read() -> None:
    doc = document("rss091.xml")  # an external DTD is named, never fetched: not refused
    assert doc.domain == "aiweekly.example"
    assert [record["url"] for record in doc.records] == [
        "https://aiweekly.example/2024/03/deepmind-benchmark.html",
        "https://aiweekly.example/2024/03/robotics-round.html",
    ]
    # No date in the feed: first seen now.
    assert {record["published_at"] for record in doc.records} == {NOW.isoformat()}


def test_rss_10_rdf_with_syndication_period() -> None:
    doc = document("rdf.xml", topic_hint="AI Research")
    assert doc.title == "cs.LG updates on arXiv.org"
    assert doc.ttl_minutes == 720  # daily, twice
    paper = doc.records[0]
    assert paper["url"] == "https://arxiv.org/abs/2403.11111"
    assert paper["excerpt"] == "We study how large language models with sparse experts scale."
    assert paper["published_at"] == "2024-03-18T00:00:00+00:00"
    assert paper["topics"][:2] == ["cs.LG", "AI Research"]  # the category, then the hint
    assert "Language Models" in paper["topics"]
    assert "Computer Vision" in doc.records[1]["topics"]


def test_atom_10_html_title_content_image_and_updated_date() -> None:
    doc = document("atom10.xml", url="https://blog.research.google/feeds/posts/default")
    gemini, robots = doc.records
    assert gemini["title"] == "Gemini & the long context window"
    assert gemini["excerpt"] == "Posted by the Gemini team Long context & memory."
    assert gemini["published_at"] == "2024-03-15T17:00:00+00:00"  # published, not updated
    assert gemini["images"] == [
        ["https://blog.research.google/images/gemini-thumb.png", 72, 72],
        ["https://blog.research.google/images/gemini-chart.png", None, None],  # the first <img>
    ]
    assert gemini["topics"][:2] == ["Machine Intelligence", "Generative AI"]
    assert robots["published_at"] == "2024-03-14T09:30:00+00:00"  # only `updated`: used
    assert robots["images"] == []  # a javascript: <img> is no image
    assert "Robotics" in robots["topics"]


def test_atom_03() -> None:
    doc = document("atom03.xml")
    (record,) = doc.records
    assert record["url"] == "https://mlnotes.example.org/2024/03/nn-explained"
    assert record["published_at"] == "2024-03-11T08:00:00+00:00"  # `issued`
    assert record["provider"] == ["Machine Learning Notes", "mlnotes.example.org"]


def test_json_feed_11() -> None:
    doc = document("feed.json", url="https://huggingface.co/blog/feed.json",
                   content_type="application/feed+json")
    assert (doc.title, doc.domain) == ("Hugging Face Blog", "huggingface.co")
    leaderboard, diffusers = doc.records
    assert leaderboard["url"] == "https://huggingface.co/blog/open-llm"
    assert leaderboard["excerpt"] == "We re-ran every large language model on new tasks."
    assert leaderboard["images"] == [
        ["https://huggingface.co/blog/assets/leaderboard-full.png", None, None],
        ["https://huggingface.co/blog/assets/leaderboard.png", None, None],
    ]
    assert leaderboard["topics"][:2] == ["NLP", "Open Source"]
    assert "Language Models" in leaderboard["topics"]
    assert diffusers["original_url"] == "https://huggingface.co/blog/diffusers-release"
    assert diffusers["excerpt"] == "Text-to-image pipelines, now stable. <not a tag> & friends"
    assert diffusers["published_at"] == "2024-03-09T07:00:00+00:00"  # date_modified
    assert doc.skipped == 2  # an item without url and title, and a string


def test_json_feed_found_by_its_first_byte_without_a_content_type() -> None:
    doc = document("feed.json", content_type="text/plain")
    assert len(doc.records) == 2


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"version": "1", "items": []}', "not a feed: JSON without a JSON Feed version"),
    (b'{"version": "https://jsonfeed.org/version/1.1"}', "not a feed: JSON Feed without"),
    (b"[1, 2]", "not a feed: JSON, but not an object"),
    (b"{oops", "not a feed: invalid JSON"),
    (b'{"version": "https://jsonfeed.org/version/1", "items": []}',
     "no usable entries: the feed has no entries"),
])
def test_json_that_is_no_feed_is_an_error(body: bytes, reason: str) -> None:
    result = parse_bytes(body, content_type="application/json")
    assert isinstance(result, FeedError)
    assert result.reason.startswith(reason)


# --- encodings --------------------------------------------------------------------------


def test_iso_8859_1() -> None:
    (record,) = document("latin1.xml").records
    assert record["title"] == "L'IA générative arrive dans les entreprises françaises"
    assert record["excerpt"] == "Déploiement, coûts et sécurité : où en sont les DSI ?"


def test_windows_1252_euro_and_curly_quotes() -> None:
    (record,) = document("cp1252.xml").records
    assert record["title"] == "\u201cA \u20ac10bn bet\u201d: Europe\u2019s chip plan for AI"
    assert record["excerpt"] == "The caf\u00e9 talk in Brussels \u2013 subsidies for fabs."
    assert "AI Hardware" in record["topics"]  # "chip"


def test_utf16_with_bom() -> None:
    assert (FEEDS / "utf16.xml").read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    doc = document("utf16.xml")
    assert doc.title == "日本のAIニュース"
    (record,) = doc.records
    assert record["title"] == "生成AIの新モデル — Generative AI model"
    assert record["excerpt"] == "新しいモデルが発表された。"


def test_declared_charset_in_the_content_type_is_used() -> None:
    body = (FEEDS / "latin1.xml").read_bytes().replace(b' encoding="ISO-8859-1"', b"")
    doc = parse_bytes(body, content_type="application/rss+xml; charset=iso-8859-1")
    assert isinstance(doc, FeedDocument)
    (record,) = doc.records
    assert record["title"] == "L'IA générative arrive dans les entreprises françaises"


# --- odd entries ------------------------------------------------------------------------


def test_malformed_xml_keeps_the_entries_that_parse() -> None:
    doc = document("malformed.xml")
    assert [record["title"] for record in doc.records] == [
        "OpenAI ships a new model", "Anthropic expands to Europe"]
    assert doc.records[0]["excerpt"] == "Details & pricing inside"
    assert any(warning.startswith("malformed XML") for warning in doc.warnings)


def test_html_in_titles_and_summaries_becomes_plain_text() -> None:
    doc = document("html.xml")
    assert doc.title == "Tech & AI"
    bold = by_title(doc)["Bold claims & real results"]
    assert bold["excerpt"] == "First paragraph & more. Second paragraph."
    assert "evil" not in str(bold) and "color" not in bold["excerpt"]
    assert bold["images"] == [["https://cdn.techandai.example.com/bold.jpg", None, None]]
    assert bold["provider"] == ["Tech & AI", "techandai.example.com"]  # without www.


def test_long_excerpt_cut_at_a_word_with_an_ellipsis() -> None:
    excerpt = by_title(document("html.xml"))["A long read"]["excerpt"]
    assert len(excerpt) <= MAX_EXCERPT
    assert excerpt.endswith("…")
    assert excerpt[:-1].split(" ")[-1].startswith("word")  # a whole word before the ellipsis
    assert excerpt.startswith("word0 word1 ")


def test_future_dates_clamped_and_missing_dates_are_now() -> None:
    doc = document("dates.xml")
    future = by_title(doc)["Our model will ship next year"]
    undated = by_title(doc)["An undated announcement"]
    assert future["published_at"] == undated["published_at"] == NOW.isoformat()
    assert any("in the future" in warning for warning in doc.warnings)


def test_provider_domain_from_the_feed_url_without_a_site_link() -> None:
    body = (b'<rss version="2.0"><channel><title>No Link</title><item><title>An item</title>'
            b"<link>https://news.example.net/a</link></item></channel></rss>")
    doc = parse_bytes(body, url="https://www.feeds.example.org/ai.xml")
    assert isinstance(doc, FeedDocument)
    assert doc.records[0]["provider"] == ["No Link", "feeds.example.org"]


def test_the_same_article_twice_in_one_feed_is_one_record() -> None:
    item = (b"<item><title>{}</title><link>https://a.example.com/x?utm_medium={}</link></item>")
    body = (b'<rss version="2.0"><channel><title>T</title>' + item.replace(b"{}", b"1")
            + item.replace(b"{}", b"2") + b"</channel></rss>")
    doc = parse_bytes(body)
    assert isinstance(doc, FeedDocument)
    assert [record["title"] for record in doc.records] == ["1"]


def test_no_usable_entries_names_the_reason() -> None:
    item = b"<item><title>Title {}</title><description>no link</description></item>"
    body = (b'<rss version="2.0"><channel><title>T</title>'
            + b"".join(item.replace(b"{}", str(n).encode()) for n in range(3))
            + b"</channel></rss>")
    result = parse_bytes(body)
    assert result == FeedError("no usable entries: 3 skipped (no link)")


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "not a feed: the document is empty"),
    (b"<html><head><title>Hi</title></head><body><p>A page</p></body></html>", "not a feed"),
    (b"plain text, not XML", "not a feed"),
    (b'<rss version="2.0"><channel><title>Empty</title></channel></rss>',
     "no usable entries: the feed has no entries"),
])
def test_documents_that_are_no_feed(body: bytes, reason: str) -> None:
    result = parse_bytes(body)
    assert isinstance(result, FeedError)
    assert result.reason.startswith(reason)


def test_a_body_naming_a_local_file_is_not_opened(tmp_path: Path) -> None:
    # feedparser opens a bytes argument that is a file name; the body is a document only.
    secret = tmp_path / "feed.xml"
    secret.write_bytes((FEEDS / "rss20.xml").read_bytes())
    result = parse_bytes(str(secret).encode())
    assert isinstance(result, FeedError)
    assert "Nvidia" not in str(result)


# --- the tagger -------------------------------------------------------------------------


def _topics_of(title: str, known: tuple[str, ...] = KNOWN) -> list[str]:
    body = (f'<rss version="2.0"><channel><title>T</title><item><title>{title}</title>'
            f"<link>https://t.example.com/1</link></item></channel></rss>").encode()
    doc = parse_bytes(body, known=known)
    assert isinstance(doc, FeedDocument)
    return list(doc.records[0]["topics"])


def test_tagger_maps_words_to_the_corpus_topics() -> None:
    assert "AI Hardware" in _topics_of("New GPUs and TPUs for training")
    assert "AI Hardware" in _topics_of("A semiconductor shortage hits accelerators")
    assert "Language Models" in _topics_of("An open LLM beats larger rivals")
    assert _topics_of("The weather today") == []


def test_tagger_matches_known_topics_as_whole_words_in_their_spelling() -> None:
    topics = _topics_of("How generative ai is changing search", known=("Generative AI",))
    assert "Generative AI" in topics and "generative ai" not in topics  # the store's spelling
    assert "Facebook AI" in _topics_of("facebook ai opens its lab")
    assert "Quantum Widgets" in _topics_of("Quantum widgets arrive", known=("Quantum Widgets",))
    # Part of a longer word is no match.
    assert "AI" not in _topics_of("Maintenance windows and daily trains", known=("AI",))


def test_tagger_uses_the_known_spelling_of_a_rule_topic() -> None:
    assert "AI hardware" in _topics_of("Faster chips", known=("AI hardware",))


def test_tagger_phrases_model_names_and_word_edges() -> None:
    # A phrase inside another rule's phrase still counts: "AI Act" is regulation and AI.
    topics = _topics_of("Lawmakers pass the AI Act", known=())
    assert topics[:2] == ["AI Regulation", "AI"]
    assert "Language Models" in _topics_of("OpenAI's GPT-4o and large language models", known=())
    assert "OpenAI" in _topics_of("OpenAI's new office", known=())
    assert "Autonomous Vehicles" in _topics_of("Self-driving and autonomous cars", known=())
    # Joined by a hyphen, a word is part of a longer one.
    assert _topics_of("ML-based pricing", known=()) == []


# --- unsafe XML -------------------------------------------------------------------------


def test_billion_laughs_refused_without_expanding() -> None:
    result = parse("billion_laughs.xml")
    assert isinstance(result, FeedError)
    assert result.reason.startswith("unsafe XML: the document declares entities")
    assert "lollol" not in result.reason


def _leaky(tmp_path: Path) -> tuple[bytes, str]:
    secret = "TOP-SECRET-7f3a9c"
    path = tmp_path / "secret.txt"
    path.write_text(secret)
    template = (FEEDS / "external_entity.xml").read_text()
    return template.replace("SECRET_PATH", str(path)).encode(), secret


def test_external_entity_refused_and_the_file_never_read(tmp_path: Path) -> None:
    body, secret = _leaky(tmp_path)
    result = parse_bytes(body)
    assert isinstance(result, FeedError)
    assert result.reason.startswith("unsafe XML: the document declares entities")
    assert secret not in str(result)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_entities_refused_in_utf16_and_utf32_too(tmp_path: Path, encoding: str) -> None:
    body, _ = _leaky(tmp_path)
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>'
    text = body.decode().replace('<?xml version="1.0"?>', declaration)
    result = parse_bytes(text.encode(encoding))
    assert isinstance(result, FeedError)
    assert result.reason.startswith("unsafe XML")


@pytest.mark.parametrize("prolog", [
    # One line: feedparser's own DOCTYPE clean-up misses these, and expat expands them.
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "INTERNAL-SECRET">]>',
    # A comment that looks like an element before the DOCTYPE.
    '<?xml version="1.0"?><!-- <a> --><!DOCTYPE rss [<!ENTITY a "INTERNAL-SECRET">]>',
    # Lower case, which the loose parser accepts.
    '<!doctype rss [<!entity a "INTERNAL-SECRET">]>',
])
def test_internal_entities_refused_however_written(prolog: str) -> None:
    body = (prolog + '<rss version="2.0"><channel><title>T &a;</title><item><title>&a;</title>'
            "<link>https://x.example.com/1</link></item></channel></rss>").encode()
    result = parse_bytes(body)
    assert isinstance(result, FeedError)
    assert result.reason.startswith("unsafe XML")


def test_entity_text_inside_an_article_is_not_a_declaration() -> None:
    # An article about XML attacks quotes a declaration in its content: the feed is fine.
    body = (b'<rss version="2.0"><channel><title>Sec</title><item><title>XXE explained</title>'
            b"<link>https://sec.example.com/xxe</link><description><![CDATA[Write "
            b"<!ENTITY x SYSTEM 'file:///etc/passwd'> and see.]]></description></item>"
            b"</channel></rss>")
    doc = parse_bytes(body)
    assert isinstance(doc, FeedDocument)
    assert doc.records[0]["title"] == "XXE explained"


def _parse_in_child(script: str, body: bytes, tmp_path: Path) -> str:
    """Run `script` (which parses `body` from stdin) in a fresh Python; its output."""
    code = ("import sys\nfrom datetime import UTC, datetime\n"
            "from bot.feeds.entries import parse_feed\nbody = sys.stdin.buffer.read()\n"
            + script)
    done = subprocess.run(  # noqa: S603 - our own Python, with a script we wrote
        [sys.executable, "-c", code], input=body, capture_output=True, cwd=ROOT, timeout=120,
        check=True)
    return done.stdout.decode()


def test_a_dtd_named_by_path_is_never_opened(tmp_path: Path) -> None:
    # libxml2 opens a DTD given as a file path to look for an entity the document uses: a
    # FIFO nobody writes to would hang the parse for ever.
    fifo = tmp_path / "feed.dtd"
    os.mkfifo(fifo)
    body = (f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{fifo}">\n'
            '<rss version="2.0"><channel><title>T</title><item><title>Chips &amp; &x;</title>'
            "<link>https://chips.example.com/1</link></item></channel></rss>").encode()
    printed = _parse_in_child(
        "doc = parse_feed(body, url='https://chips.example.com/feed', content_type=None,"
        " topic_hint=None, now=datetime.now(UTC))\nprint(doc.records[0]['url'])",
        body, tmp_path)
    assert printed.strip() == "https://chips.example.com/1"


def test_a_document_dense_with_tags_is_read_in_bounded_memory(tmp_path: Path) -> None:
    # Empty elements beside one real entry: as a tree they cost many times their bytes.
    body = (b'<rss version="2.0"><channel><title>T</title><item><title>Kept</title>'
            b"<link>https://dense.example.com/1</link></item>" + b"<a/>" * 120_000
            + b"</channel></rss>")
    printed = _parse_in_child(
        "from pathlib import Path\n"
        "def status(key):\n"
        "    line = next(line for line in Path('/proc/self/status').read_text().splitlines()"
        " if line.startswith(key))\n"
        "    return int(line.split()[1])\n"
        "before = status('VmRSS:')\n"
        "doc = parse_feed(body, url='https://dense.example.com/feed', content_type=None,"
        " topic_hint=None, now=datetime.now(UTC))\n"
        "grown = status('VmHWM:') - before\n"
        "print(doc.records[0]['title'], grown // 1024)",
        body, tmp_path)
    title, grown_mb = printed.split()
    assert title == "Kept"
    assert int(grown_mb) < 15  # streamed, not built into trees


# --- any input --------------------------------------------------------------------------

_FIXTURE_BODIES = [path.read_bytes() for path in sorted(FEEDS.iterdir())]


@st.composite
def _damaged_feeds(draw: st.DrawFn) -> bytes:
    """A fixture document with a slice cut out and some bytes put in."""
    body = draw(st.sampled_from(_FIXTURE_BODIES))
    start = draw(st.integers(0, len(body)))
    end = draw(st.integers(start, len(body)))
    return body[:start] + draw(st.binary(max_size=40)) + body[end:]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(st.binary(max_size=2000), _damaged_feeds()),
       content_type=st.sampled_from([None, "application/json", "application/rss+xml",
                                     "text/xml; charset=utf-16", "text/html; charset=bogus"]))
def test_any_bytes_give_a_document_or_an_error(body: bytes, content_type: str | None) -> None:
    result = parse_bytes(body, content_type=content_type)
    assert isinstance(result, FeedDocument | FeedError)
    if isinstance(result, FeedDocument):
        assert result.records
        for record in result.records:
            assert record["title"] and is_http_url(record["original_url"])
            assert record["published_at"] <= NOW.isoformat()
            assert all(is_http_url(image[0]) for image in record["images"])
