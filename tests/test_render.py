"""Render: every embed and view stays inside Discord's limits and shows untrusted text literally."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render
from bot.articles import Article, Image, Provider

HOSTILE = Article(
    url="https://evil.example/x",
    title="@everyone [click me](https://evil.example) **bold** <@123456789012345678> " + "x" * 400,
    excerpt="@here `code` ~~strike~~ ||spoiler|| [link](javascript:alert(1)) " * 200,
    published_at=datetime(2022, 5, 26, 9, 28, tzinfo=UTC),
    original_url="javascript:alert(1)",
    web_url="https://evil.example/x?a=(1)",
    amp_url="https://evil.example/" + "a" * 600,
    provider=Provider("@everyone Evil [Corp](https://x)", "evil.example"),
    topics=tuple(f"topic number {n} with a long *name*" for n in range(40)),
    images=(Image("javascript:alert(1)"), Image("https://img.example/a(1).png")),
    article_id=7,
)


def _all_urls(embed: discord.Embed) -> list[str]:
    data = embed.to_dict()
    urls = [data.get("url"), data.get("image", {}).get("url"), data.get("author", {}).get("url")]
    return [url for url in urls if url]


def _check_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title", "")) <= 256
    assert len(data.get("description", "")) <= 4096
    assert len(data.get("fields", [])) <= 25
    for field in data.get("fields", []):
        assert 0 < len(field["name"]) <= 256
        assert 0 < len(field["value"]) <= 1024
    assert len(data.get("footer", {}).get("text", "")) <= 2048
    assert len(data.get("author", {}).get("name", "")) <= 256
    assert len(embed) <= 6000
    for url in _all_urls(embed):
        assert url.startswith(("http://", "https://"))
        assert " " not in url


def test_hostile_article_card_is_clean() -> None:
    embed = render.article_card(HOSTILE)
    _check_limits(embed)
    data = embed.to_dict()
    # javascript: is never used; the link falls back to the web URL, parentheses encoded.
    assert data["url"] == "https://evil.example/x?a=%281%29"
    assert "@everyone" not in data["title"] and "@\u200beveryone" in data["title"]
    assert "\\[click me\\]" in data["title"]
    assert "\\*\\*bold\\*\\*" in data["title"]
    assert data["title"].endswith("…")
    assert "javascript" not in data.get("image", {}).get("url", "")
    assert data["image"]["url"] == "https://img.example/a%281%29.png"
    assert "+" in data["fields"][0]["value"] and "more" in data["fields"][0]["value"]


def test_hostile_article_buttons_are_valid_links() -> None:
    view = render.link_buttons(HOSTILE)
    buttons = [item for item in view.children if isinstance(item, discord.ui.Button)]
    # The AMP URL is over Discord's 512-character button limit, so only the original remains.
    assert [b.label for b in buttons] == ["Original"]
    assert all(b.url and b.url.startswith("https://") and len(b.url) <= 512 for b in buttons)


def test_list_line_keeps_markdown_literal() -> None:
    line = render.list_line(1, HOSTILE)
    assert line.startswith("**1.** [")
    assert "](https://evil.example/x?a=%281%29)" in line
    assert "[click me](https://evil.example)" not in line
    assert len(line) <= render.LIST_LINE_BUDGET + 40


_text = st.text(max_size=5000)
_urls = st.one_of(
    st.none(),
    st.text(max_size=50),
    st.builds(lambda s: f"https://example.com/{s}", st.text(max_size=3000)),
    st.builds(lambda s: f"javascript:{s}", st.text(max_size=20)),
)
articles = st.builds(
    Article,
    url=st.just("https://example.com/a"),
    title=_text,
    excerpt=_text,
    published_at=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
    original_url=_urls,
    web_url=_urls,
    amp_url=_urls,
    amp_cache_url=_urls,
    provider=st.one_of(st.none(), st.builds(Provider, _text, st.text(max_size=300))),
    topics=st.lists(st.text(min_size=1, max_size=100), max_size=60).map(tuple),
    images=st.lists(st.builds(Image, _urls.filter(bool)), max_size=3).map(tuple),
    quality=st.one_of(st.none(), st.integers()),
    article_id=st.one_of(st.none(), st.integers(min_value=1, max_value=10**12)),
)


@settings(max_examples=200, deadline=None)
@given(articles)
def test_any_article_card_fits_discord(article: Article) -> None:
    _check_limits(render.article_card(article))
    view = render.link_buttons(article)
    for item in view.children:
        assert isinstance(item, discord.ui.Button)
        assert item.url and item.url.startswith(("http://", "https://"))
        assert len(item.url) <= 512 and len(item.label or "") <= 80


@settings(max_examples=100, deadline=None)
@given(st.lists(articles, min_size=0, max_size=10), st.text(max_size=400))
def test_any_page_fits_discord(items: list[Article], heading: str) -> None:
    embed = render.list_embed(heading, items, 0, len(items) + 100, 10)
    _check_limits(embed)
    for position, article in enumerate(items, 1):
        assert len(render.select_label(position, article)) <= 100
        assert 1 <= len(render.choice_name(article.title)) <= 100


def test_a_capped_total_reads_as_more() -> None:
    embed = render.list_embed("Latest AI news", [HOSTILE], 0, 1000, 5, capped=True)
    assert embed.footer.text == "Page 1 of 200+ · 1000+ articles"
