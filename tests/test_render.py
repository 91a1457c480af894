"""Render: every embed and view stays inside Discord's limits and shows untrusted text literally."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import discord
from conftest import write_article
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render
from bot.articles import Article, Image, Provider, canonical_url
from bot.digest import DigestContent
from bot.loader import sync
from bot.store import Store

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


TRACKED = Article(
    url="https://example.com/news/ai-chips?id=42",
    title="AI chips, tracked",
    original_url="https://Example.com/News/AI-Chips?utm_source=rss&id=42&td=top",
    amp_url="https://example.com/amp/News/AI-Chips?ocid=msn&id=42",
    amp_cache_url="https://example-com.cdn.ampproject.org/c/s/News/AI-Chips?utm_medium=x",
    published_at=datetime(2022, 5, 26, 9, 28, tzinfo=UTC),
)
CLEAN_LINK = "https://Example.com/News/AI-Chips?id=42"
CLEAN_AMP = "https://example.com/amp/News/AI-Chips?id=42"
CLEAN_CACHE = "https://example-com.cdn.ampproject.org/c/s/News/AI-Chips"


def test_cards_buttons_lists_and_digests_link_without_tracking_parameters() -> None:
    assert render.article_card(TRACKED).url == CLEAN_LINK
    buttons = {item.label: item.url for item in render.link_buttons(TRACKED).children
               if isinstance(item, discord.ui.Button)}
    assert buttons == {"Original": CLEAN_LINK, "AMP": CLEAN_AMP, "AMP cache": CLEAN_CACHE}
    assert f"[AI chips, tracked]({CLEAN_LINK}) · [AMP]({CLEAN_AMP})" in render.list_line(1, TRACKED)
    content = DigestContent(day=date(2022, 5, 26), articles=[TRACKED], new_count=1)
    _header, card = render.digest_embeds(content)
    assert card.url == CLEAN_LINK
    assert f"[AMP]({CLEAN_AMP})" in (card.description or "")


async def test_an_article_merged_from_a_clean_and_a_utm_copy_links_cleanly(
    store: Store, tmp_path: Path
) -> None:
    url = "https://example.com/News/Merged"
    for name, query in (("a_clean.txt", ""), ("b_tracked.txt", "?utm_source=rss&utm_medium=feed")):
        write_article(tmp_path / "seeds" / name, title="One article, two copies",
                      publishedDateTime="2022-05-26T09:28:00Z", originalUrl=f"{url}{query}",
                      ampWebUrl=f"https://example.com/amp/News/Merged{query}")
    await sync(store, tmp_path / "seeds")
    article = await store.article_by_url(canonical_url(url))
    assert article is not None
    assert render.article_card(article).url == url
    buttons = [item.url for item in render.link_buttons(article).children
               if isinstance(item, discord.ui.Button)]
    assert buttons == [url, "https://example.com/amp/News/Merged"]
